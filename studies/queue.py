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
from typing import Callable, Iterator

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback, fail_stale_trials
from optuna.trial import FrozenTrial, TrialState

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
    for frozen in storage.get_all_trials(study._study_id, deepcopy=False, states=(TrialState.WAITING,)):
        try:
            if storage.set_trial_state_values(frozen._trial_id, state=TrialState.RUNNING):
                trial = optuna.Trial(study, frozen._trial_id)
                trial.set_user_attr(WORKER, f"{socket.gethostname()}:{os.getpid()}")
                return trial
        except UpdateFinishedTrialError:
            continue
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
        try:
            if storage.set_trial_state_values(frozen._trial_id, state=TrialState.FAIL):
                retry(study, storage.get_trial(frozen._trial_id))
                count += 1
        except UpdateFinishedTrialError:
            continue
    return count


@contextmanager
def heartbeat(storage: optuna.storages.BaseStorage, trial: optuna.Trial) -> Iterator[None]:
    """Keep a claimed trial alive in an RDB storage with heartbeats (no-op otherwise)."""
    interval = storage.get_heartbeat_interval() if isinstance(storage, RDBStorage) else None
    if not interval:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while True:
            storage.record_heartbeat(trial._trial_id)
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def drain(study: optuna.Study, storage: optuna.storages.BaseStorage, run: Callable[[optuna.Trial], None],
          refill: Callable[[], bool] = lambda: False, poll_seconds: float = 2.0) -> None:
    """Run queued trials until the queue is empty, nothing can be added, and no other worker is
    still running one (their trials may fail and come back to the queue)."""
    while True:
        trial = claim(study, storage)
        if trial is not None:
            run(trial)
            continue
        if refill():
            continue
        if not trials(study, TrialState.RUNNING):
            return
        fail_stale_trials(study)  # RDB heartbeats: a dead worker's trial comes back to the queue here
        requeue_running(study, storage, only=claimed_by_dead_local_process)
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
