"""Running a study's trials from a queue that several workers share, each trial claimed exactly once.

Every budget slot is an enqueued (WAITING) trial; a worker claims one by moving it to RUNNING, which
the storage does atomically (the same step ``Study.ask`` uses to pop its queue), so no two workers
run the same slot. Unlike ``ask``, a worker that finds the queue empty never creates a surplus trial.
A trial whose worker died is failed — by heartbeat on an RDB storage, or at start-up when the storage
is local to this comparison — and ``RetryHeartbeatStaleTrialCallback`` queues its slot again.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback, fail_stale_trials
from optuna.trial import FrozenTrial, TrialState

from studies import optuna_storage

REASON = "reason"  # user attribute: why a trial was pruned or failed
COUNTED = "counted"  # user attribute on FAIL trials that used their budget slot (vs. killed, re-queued)
WORKER = "worker"  # user attribute: host:pid of the process that claimed the trial


def trials(study: optuna.Study, *states: TrialState) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=states or None)


def counted_trials(study: optuna.Study) -> list[FrozenTrial]:
    """Trials that spent a budget slot: finished, pruned, or failed with a recorded reason."""
    return [t for t in trials(study) if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
            or (t.state == TrialState.FAIL and t.user_attrs.get(COUNTED))]


def claim(study: optuna.Study, storage: optuna.storages.BaseStorage) -> optuna.Trial | None:
    """Atomically take one WAITING trial, or None when the queue is empty."""
    for frozen in optuna_storage.waiting(storage, study):
        if optuna_storage.move(storage, study, frozen, TrialState.RUNNING):
            trial = optuna_storage.live_trial(storage, study, frozen.number)
            trial.set_user_attr(WORKER, f"{socket.gethostname()}:{os.getpid()}")
            return trial
    return None


def requeue_running(study: optuna.Study, storage: optuna.storages.BaseStorage,
                    only: Callable[[FrozenTrial], bool] = lambda trial: True) -> int:
    """Fail RUNNING trials (all, or those ``only`` selects) and queue their slots again. Failing all
    is only safe when no other process can be running trials of this study (local storage, locked)."""
    retry = RetryHeartbeatStaleTrialCallback()
    count = 0
    for frozen in trials(study, TrialState.RUNNING):
        if not only(frozen):
            continue
        if optuna_storage.move(storage, study, frozen, TrialState.FAIL):
            retry(study, optuna_storage.stored(storage, study, frozen.number))
            count += 1
    return count


@contextmanager
def heartbeat(storage: optuna.storages.BaseStorage, study: optuna.Study, trial: optuna.Trial) -> Iterator[None]:
    """Keep a claimed trial alive in an RDB storage with heartbeats (no-op otherwise)."""
    interval = storage.get_heartbeat_interval() if isinstance(storage, RDBStorage) else None
    if not interval:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while True:
            optuna_storage.beat(storage, study, trial)
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@dataclass
class Queue:
    """One study's slots and how to run one; ``refill`` adds a slot while a compute budget lasts."""

    study: optuna.Study
    run: Callable[[optuna.Trial], None]
    refill: Callable[[], bool] = lambda: False

    def claim(self, storage: optuna.storages.BaseStorage) -> optuna.Trial | None:
        """A queued trial, or one added by ``refill``; None when there is neither."""
        trial = claim(self.study, storage)
        if trial is None and self.refill():
            trial = claim(self.study, storage)
        return trial

    def finished(self) -> bool:
        """No slot is queued or running (a running trial may fail and come back), and none can be added."""
        return not trials(self.study, TrialState.WAITING, TrialState.RUNNING) and not self.refill()


@dataclass
class Stage:
    """Queues that open when they can: ``open()`` returns them, or None while they must wait (a strategy's seed
    runs wait for its tuning to finish). ``finished`` is called once, in this process, when all of them are."""

    open: Callable[[], list[Queue] | None]
    finished: Callable[[], None] = lambda: None
    queues: list[Queue] | None = field(default=None, init=False)
    done: bool = field(default=False, init=False)

    def ready(self) -> list[Queue]:
        if self.queues is None:
            self.queues = self.open()
        return self.queues or []


def work(stages: list[Stage], storage: optuna.storages.BaseStorage, poll_seconds: float = 2.0,
         should_stop: Callable[[], bool] = lambda: False) -> None:
    """Run queued trials, always from the first stage (in the given order) with one to claim, until every stage is
    finished. One worker therefore runs the stages strictly in order; several workers spread over every stage
    that has work instead of waiting on one another's running trials, and a stage that must wait (seed runs before
    their tuning is over) is passed over until it can open. When nothing can be claimed, trials of dead workers are
    failed and re-queued (RDB heartbeats, or a local process that no longer exists) before waiting again.
    ``should_stop`` is asked before each claim: when it says so (a race's time budget is spent), no further
    trial starts and this returns."""
    while not should_stop():
        trial, source = None, None
        for stage in stages:
            for candidate in stage.ready():
                trial = candidate.claim(storage)
                if trial is not None:
                    source = candidate
                    break
            if trial is not None:
                break
        if trial is not None:
            source.run(trial)
            continue
        waiting = False
        for stage in stages:
            if stage.done:
                continue
            queues = stage.ready() if stage.queues is None else stage.queues
            if stage.queues is None or not all(q.finished() for q in queues):
                waiting = True
                continue
            stage.done = True
            stage.finished()
        if not waiting:
            return
        for stage in stages:
            for candidate in stage.queues or []:
                fail_stale_trials(candidate.study)  # RDB heartbeats: a dead worker's trial comes back to the queue
                requeue_running(candidate.study, storage, only=claimed_by_dead_local_process)
        time.sleep(poll_seconds)


def claimed_by_dead_local_process(trial: FrozenTrial) -> bool:
    """True for a trial claimed by a process on this host that no longer exists (works without heartbeats)."""
    host, _, pid = str(trial.user_attrs.get(WORKER, "")).rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
