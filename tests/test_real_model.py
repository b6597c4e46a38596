"""Two real training steps of every strategy on the packaged all-MiniLM-L6-v2 and real SST-2 rows (two:
AdaLoRA refuses a one-step run, which could never score and prune its ranks)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from peftbench.config import TrainConfig
from peftbench.models import DEFAULT_MODEL, resolve_model
from peftbench.task_files import DEFAULT_DATA_DIRS
from peftbench.task_types import TaskData
from peftbench.tasks import load_task
from peftbench.train import train
from strategies import STRATEGIES, get_strategy
from tests.conftest import sentiment_rows, write_tsv

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def sst2_dir(tmp_path_factory) -> str:
    """Real SST-2 when the shared data is beside the checkout, else the toy rows in the same layout."""
    if (DEFAULT_DATA_DIRS[1] / "sst2" / "train.tsv").exists():
        return str(DEFAULT_DATA_DIRS[1])
    root = tmp_path_factory.mktemp("glue")
    write_tsv(root / "sst2" / "train.tsv", ["sentence", "label"], sentiment_rows(64, 1))
    write_tsv(root / "sst2" / "dev.tsv", ["sentence", "label"], sentiment_rows(32, 2))
    return str(root)


def test_packaged_model_resolves_to_a_local_directory():
    path = resolve_model(DEFAULT_MODEL)
    assert path != DEFAULT_MODEL and (__import__("pathlib").Path(path) / "model.safetensors").is_file()


@pytest.fixture(scope="module")
def step_config(sst2_dir) -> TrainConfig:
    return TrainConfig(task="sst2", data_dir=sst2_dir, train_size=16, carve_size=32, max_steps=2, batch_size=8,
                       progress=False, device="cpu")


@pytest.fixture(scope="module")
def step_rows(step_config) -> TaskData:
    """The task read once for every strategy: 16 training rows, 32 dev rows carved from train and the first 32
    held-out rows. The steps are the point: reading SST-2 and scoring 1,872 rows for each of the 25 strategies
    made this file 200 s of the suite (now 51 s)."""
    data = load_task(step_config.task_request())
    return replace(data, test=data.test.select(range(32)) if data.test is not None else None)


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_one_training_step_on_the_real_model(strategy, step_config, step_rows):
    result = train(step_config, get_strategy(strategy), data=step_rows)
    assert result.steps == 2 and result.total_params > 22_000_000
    assert 0.0 <= result.score("dev") <= 1.0
