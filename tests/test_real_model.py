"""Two real training steps of every strategy on the packaged all-MiniLM-L6-v2 and real SST-2 rows (two:
AdaLoRA refuses a one-step run, which could never score and prune its ranks)."""

from __future__ import annotations

import pytest

from core.config import TrainConfig
from core.models import DEFAULT_MODEL, resolve_model
from core.tasks import DEFAULT_DATA_DIRS
from core.train import train
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


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_one_training_step_on_the_real_model(strategy, sst2_dir):
    config = TrainConfig(task="sst2", data_dir=sst2_dir, train_size=16, max_steps=2, batch_size=8, progress=False,
                         device="cpu")
    result = train(config, get_strategy(strategy), data=None)
    assert result.steps == 2 and result.total_params > 22_000_000
    assert 0.0 <= result.score("dev") <= 1.0
