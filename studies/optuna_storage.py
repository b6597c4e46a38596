"""The one place peftbench goes below Optuna's Study API, and what it relies on there.

The work queue (``studies.queue``) claims a queued trial atomically, fails a dead worker's trial, and keeps a
claimed trial's heartbeat. ``Study.ask`` claims too, but creates a surplus trial when the queue is empty, which a
shared budget must not do. So this module uses:

- the storage API (``optuna.storages.BaseStorage``, public, documented for custom storages):
  ``get_study_id_from_name``, ``get_trial_id_from_study_id_trial_number``, ``get_all_trials``,
  ``set_trial_state_values`` (which moves a trial out of WAITING for exactly one caller and raises
  ``UpdateFinishedTrialError`` on a finished one), ``get_trial`` and ``record_heartbeat``;
- ``optuna.trial.Trial(study, trial_id)``: the documented Trial class, built from a claimed id as ``Study.ask``
  builds it. Its constructor is the one private detail; ``tests/test_distributed.py`` fails if it changes.
"""

from __future__ import annotations

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState


def trial_id(storage: optuna.storages.BaseStorage, study: optuna.Study, number: int) -> int:
    """The storage's id of trial ``number`` of ``study``."""
    return storage.get_trial_id_from_study_id_trial_number(storage.get_study_id_from_name(study.study_name), number)


def waiting(storage: optuna.storages.BaseStorage, study: optuna.Study) -> list[FrozenTrial]:
    return storage.get_all_trials(storage.get_study_id_from_name(study.study_name), deepcopy=False,
                                  states=(TrialState.WAITING,))


def move(storage: optuna.storages.BaseStorage, study: optuna.Study, trial: FrozenTrial, state: TrialState) -> bool:
    """Move ``trial`` to ``state``: True for the one caller that did it, False when another did first."""
    try:
        return storage.set_trial_state_values(trial_id(storage, study, trial.number), state=state)
    except UpdateFinishedTrialError:
        return False


def live_trial(storage: optuna.storages.BaseStorage, study: optuna.Study, number: int) -> optuna.Trial:
    """The running trial ``number`` as the objective sees it (what ``Study.ask`` returns)."""
    return optuna.trial.Trial(study, trial_id(storage, study, number))


def stored(storage: optuna.storages.BaseStorage, study: optuna.Study, number: int) -> FrozenTrial:
    return storage.get_trial(trial_id(storage, study, number))


def beat(storage: optuna.storages.BaseStorage, study: optuna.Study, trial: optuna.Trial) -> None:
    storage.record_heartbeat(trial_id(storage, study, trial.number))
