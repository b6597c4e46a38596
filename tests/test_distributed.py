"""Many workers, one comparison: trials split across processes (and "machines": separate commands
on one storage) with no duplicated or lost trial, and every seed run claimed exactly once.

CI starts a real PostgreSQL server (ci/postgres.sh) and sets PEFTBENCH_TEST_POSTGRES_URL; each test
gets a fresh database in it. Without that variable the same tests run on a journal file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from studies import optuna_storage, queue
from tests.conftest import sst2_dir

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ENV = "PEFTBENCH_TEST_POSTGRES_URL"


@pytest.fixture
def storage_url(tmp_path) -> str:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        if os.environ.get("CI"):
            pytest.fail(f"CI must test against PostgreSQL: set {POSTGRES_ENV} (ci/postgres.sh)")
        return str(tmp_path / "shared.journal")
    import psycopg

    name = f"peftbench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return base.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="module")
def bigger_data(tmp_path_factory) -> str:
    return sst2_dir(tmp_path_factory.mktemp("glue"), 1200)


def command(tiny_model, data, storage, out, *extra) -> list[str]:
    return [sys.executable, "-m", "runners.compare", "--task", "sst2", "--preset", "smoke", "--model", tiny_model,
            "--data-dir", data, "--storage", storage, "--out", str(out), "--strategies", "bitfit,frozen",
            "--train-size", "1000", "--quiet", "--no-report", "--heartbeat-interval", "1", "--grace-period", "5", *extra]


def start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process: subprocess.Popen, timeout: int = 300) -> str:
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output
    return output


def load(name: str, storage: str) -> optuna.Study:
    """A study of the test's storage, a PostgreSQL URL or a journal file path, opened as the runner opens it."""
    from studies.storage import StorageChoice, open_storage

    return optuna.load_study(study_name=name, storage=open_storage(StorageChoice(storage, local=False), 1, 5))


def check_exact(storage: str, trials: int, seeds: int) -> set[str]:
    """Exactly ``trials`` finished trials and ``seeds`` seed runs per strategy; returns the workers seen."""
    workers = set()
    for strategy in ("bitfit", "frozen"):
        name = f"sst2-tiny-bert0-{strategy}-smoke"
        study = load(name, storage)
        states = Counter(t.state for t in study.trials)
        assert states[TrialState.COMPLETE] + states[TrialState.PRUNED] == trials, states
        assert states[TrialState.WAITING] == states[TrialState.RUNNING] == 0, states
        assert len(queue.counted_trials(study)) == trials
        workers |= {t.user_attrs[queue.WORKER] for t in study.trials}
        seed_study = load(name + "-seeds", storage)
        finished = [t for t in seed_study.trials if t.state == TrialState.COMPLETE]
        assert sorted(t.params["seed"] for t in finished) == list(range(seeds))
        assert len(seed_study.trials) == seeds, "a seed run was claimed twice"
    return workers


def test_three_workers_share_one_study_with_exact_counts(tiny_model, bigger_data, storage_url, tmp_path):
    # A spawned worker needs 10-20 s to import torch and friends on 2 busy cores; 4 epochs per trial keep
    # the coordinator busy well past that, so the split below does not depend on the machine's load.
    output = finish(start(command(tiny_model, bigger_data, storage_url, tmp_path / "run", "--workers", "3",
                                  "--trials", "6", "--seeds", "3", "--epochs", "4")))
    workers = check_exact(storage_url, trials=6, seeds=3)
    assert len(workers) >= 2, f"trials were not split across workers: {workers}"
    assert "rank strategy" in output
    assert "peftbench:peftbench@" not in (tmp_path / "run" / "results.json").read_text()


def test_two_machines_same_command_same_storage(tiny_model, bigger_data, storage_url, tmp_path):
    """Two independent commands (as on two machines) against one storage, each with its own --out."""
    first = start(command(tiny_model, bigger_data, storage_url, tmp_path / "a", "--workers", "2", "--trials", "5",
                          "--seeds", "2"))
    second = start(command(tiny_model, bigger_data, storage_url, tmp_path / "b", "--workers", "1", "--trials", "5",
                           "--seeds", "2"))
    finish(first)
    finish(second)
    check_exact(storage_url, trials=5, seeds=2)
    assert (tmp_path / "a" / "results.json").exists() and (tmp_path / "b" / "results.json").exists()


def test_a_killed_workers_trial_is_requeued(tiny_model, bigger_data, storage_url, tmp_path):
    """SIGKILL one command mid-trial; a second command finds the dead trial (heartbeat or dead PID),
    fails it and runs its slot again."""
    args = command(tiny_model, bigger_data, storage_url, tmp_path / "a", "--trials", "4", "--seeds", "1",
                   "--strategies", "bitfit")
    victim = start(args)
    study_name = "sst2-tiny-bert0-bitfit-smoke"
    deadline = time.time() + 240
    while time.time() < deadline:
        time.sleep(0.2)
        try:
            study = load(study_name, storage_url)
        except (KeyError, Exception):
            continue
        states = Counter(t.state for t in study.trials)
        if states[TrialState.COMPLETE] >= 1 and states[TrialState.RUNNING] == 1:
            break
    victim.kill()
    victim.wait()
    finish(start(command(tiny_model, bigger_data, storage_url, tmp_path / "b", "--trials", "4", "--seeds", "1",
                         "--strategies", "bitfit")))
    study = load(study_name, storage_url)
    states = Counter(t.state for t in study.trials)
    assert states[TrialState.COMPLETE] + states[TrialState.PRUNED] == 4
    assert states[TrialState.FAIL] == 1
    failed = next(t for t in study.trials if t.state == TrialState.FAIL)
    retried = [t for t in study.trials if t.system_attrs.get("failed_trial") == failed.number]
    assert len(retried) == 1 and retried[0].params == failed.params


def test_stale_heartbeat_from_another_host_is_failed_and_requeued(tmp_path):
    """The heartbeat path on its own (a trial claimed on another machine that went silent)."""
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    storage = RDBStorage(f"sqlite:///{tmp_path}/hb.db", heartbeat_interval=1, grace_period=1,
                         heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback())
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    study.enqueue_trial({"x": 1})
    trial = queue.claim(study, storage)
    trial.set_user_attr(queue.WORKER, "elsewhere:1")
    optuna_storage.beat(storage, study, trial)
    time.sleep(2.5)
    ran = []

    def run(claimed):
        ran.append(claimed.suggest_int("x", 0, 5))
        study.tell(claimed, 1.0)

    queue.work([queue.Stage(lambda: [queue.Queue(study, run)])], storage, poll_seconds=0.1)
    states = Counter(t.state for t in study.trials)
    assert states == {TrialState.FAIL: 1, TrialState.COMPLETE: 1} and ran == [1]


# ----------------------------------------------------------------------------- the work loop (queue.work)
def slots(storage, name: str, count: int) -> optuna.Study:
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    for number in range(count):
        study.enqueue_trial({"x": number})
    return study


def recorder(study: optuna.Study, ran: list[str]):
    def run(trial: optuna.Trial) -> None:
        ran.append(f"{study.study_name}{trial.suggest_int('x', 0, 9)}")
        study.tell(trial, 1.0)

    return run


def test_one_worker_runs_the_stages_in_order_and_a_waiting_stage_opens_when_it_can():
    """With one process, queue.work runs A's slots, then B's, then the stage that waited for A (as seed runs
    wait for their strategy's tuning): the order a sequential, seeded comparison depends on."""
    storage = optuna.storages.InMemoryStorage()
    a, b = slots(storage, "a", 2), slots(storage, "b", 1)
    ran: list[str] = []
    tune_a = queue.Queue(a, recorder(a, ran))

    def after_a() -> list[queue.Queue] | None:
        if not tune_a.finished():
            return None
        seeds = slots(storage, "s", 2)
        return [queue.Queue(seeds, recorder(seeds, ran))]

    finished: list[str] = []
    queue.work([queue.Stage(lambda: [tune_a]), queue.Stage(lambda: [queue.Queue(b, recorder(b, ran))]),
                queue.Stage(after_a, finished=lambda: finished.append("s"))], storage, poll_seconds=0.01)
    assert ran == ["a0", "a1", "b0", "s0", "s1"] and finished == ["s"]


def test_a_worker_moves_on_instead_of_waiting_for_a_trial_running_elsewhere():
    """A's only slot is running in another (live) process: this worker runs B's slots meanwhile, then waits for
    A's trial to end before the stage that needs A opens."""
    import threading

    storage = optuna.storages.InMemoryStorage()
    a, b = slots(storage, "a", 1), slots(storage, "b", 2)
    elsewhere = queue.claim(a, storage)  # claimed by this (live) process: not a dead worker's trial
    ran: list[str] = []
    tune_a = queue.Queue(a, recorder(a, ran))

    def after_a() -> list[queue.Queue] | None:
        return [] if tune_a.finished() else None

    def finish_elsewhere() -> None:
        while len(ran) < 2:
            time.sleep(0.01)
        ran.append("a (elsewhere)")
        a.tell(elsewhere, 1.0)

    other = threading.Thread(target=finish_elsewhere)
    other.start()
    queue.work([queue.Stage(lambda: [tune_a]), queue.Stage(lambda: [queue.Queue(b, recorder(b, ran))]),
                queue.Stage(after_a)], storage, poll_seconds=0.01)
    other.join()
    assert ran == ["b0", "b1", "a (elsewhere)"]
    assert Counter(t.state for t in a.trials) == {TrialState.COMPLETE: 1}


def test_what_the_queue_relies_on_below_optunas_study_api_is_still_there():
    """studies.optuna_storage states what it uses below Study: the storage API and Trial(study, trial_id). If a new
    Optuna changes either, this fails here rather than a comparison failing later."""
    import inspect

    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(study_name="api", storage=storage, direction="maximize")
    study.enqueue_trial({"x": 1})
    assert list(inspect.signature(optuna.trial.Trial.__init__).parameters) == ["self", "study", "trial_id"]
    [waiting] = optuna_storage.waiting(storage, study)
    assert optuna_storage.move(storage, study, waiting, TrialState.RUNNING)
    assert not optuna_storage.move(storage, study, waiting, TrialState.RUNNING)  # only one caller moves it
    trial = optuna_storage.live_trial(storage, study, waiting.number)
    assert trial.suggest_int("x", 0, 5) == 1 and trial.number == waiting.number
    study.tell(trial, 1.0)
    assert not optuna_storage.move(storage, study, waiting, TrialState.FAIL)  # a finished trial stays finished
    assert optuna_storage.stored(storage, study, waiting.number).state == TrialState.COMPLETE
