"""Shared fixtures: a tiny random BERT built from a config (no weights downloaded) that reuses the
packaged model's real tokenizer files, and tiny task files in GLUE layout."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Idle OpenMP threads sleep instead of spinning (read when torch loads, so before any import of it):
# on a CPU shared with other jobs the suite ran 4x faster (benchmarks/NOTES.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Under pytest-xdist (make test: one worker per core) each worker, and every process it starts, gets its share
# of the cores instead of all of them, so the workers do not oversubscribe the CPU.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    os.environ.setdefault("OMP_NUM_THREADS",
                          str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))))

POSITIVE = ["a great film", "wonderful and moving", "the best movie this year", "funny , warm and smart",
            "beautifully acted", "a joy to watch", "brilliant", "i loved it"]
NEGATIVE = ["a dull mess", "boring and long", "the worst film this year", "not funny at all",
            "badly acted", "a chore to sit through", "awful", "i hated it"]
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


def packaged_model_dir() -> Path:
    from peftbench.models import DEFAULT_MODEL, resolve_model

    return Path(resolve_model(DEFAULT_MODEL))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    """A 2-layer, 64-wide random BERT (64: bitsandbytes' CPU 4-bit kernels need rows of one 64-block) saved as safetensors beside the real MiniLM tokenizer."""
    import torch
    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny-bert")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128, max_position_embeddings=128)
    BertModel(config).save_pretrained(folder, safe_serialization=True)
    for name in TOKENIZER_FILES:
        source = packaged_model_dir() / name
        if source.exists():
            shutil.copy(source, folder / name)
    return str(folder)


def write_tsv(path: Path, header: list[str], rows: list[list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join("\t".join(map(str, r)) for r in [header, *rows]) + "\n", encoding="utf-8")
    return path


def sentiment_rows(count: int, seed: int) -> list[list]:
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        label = i % 2
        words = rng.choice(POSITIVE if label else NEGATIVE)
        rows.append([f"{words} {rng.choice(['', 'indeed', 'really', 'so'])}".strip(), label])
    return rows


def sst2_dir(root: Path, train_rows: int) -> str:
    """A GLUE-layout sst2 folder under ``root`` with ``train_rows`` toy training rows and 32 dev rows."""
    write_tsv(root / "sst2" / "train.tsv", ["sentence", "label"], sentiment_rows(train_rows, 1))
    write_tsv(root / "sst2" / "dev.tsv", ["sentence", "label"], sentiment_rows(32, 2))
    return str(root)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> str:
    """GLUE-layout sst2 (single sentence) and rte (pairs) with a few dozen rows each."""
    root = tmp_path_factory.mktemp("glue")
    sst2_dir(root, 96)
    pairs = [[f"{a[0]} .", f"it was {'good' if a[1] else 'bad'}", 1 - a[1]] for a in sentiment_rows(64, 3)]
    write_tsv(root / "rte" / "train.tsv", ["sentence1", "sentence2", "label"], pairs[:48])
    write_tsv(root / "rte" / "dev.tsv", ["sentence1", "sentence2", "label"], pairs[48:])
    return str(root)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Feature caches go to a per-test folder, never the user's home, and start empty."""
    from peftbench import features

    monkeypatch.setenv("PEFTBENCH_CACHE_DIR", str(tmp_path / "cache"))
    features._MEMORY.clear()
