#!/usr/bin/env bash
# The GPU check (benchmarks/gpu_check.py says what it runs): core vs transformers.Trainer at its best and
# as a tutorial writes it, MiniLM in bf16 and fp32 and a bert-base-sized random encoder, inside a time
# budget, from the folder `python -m benchmarks.pack_gpu_assets` writes (carried to the GPU machine).
# Installs nothing, and needs no datasets, optuna or bitsandbytes. Without a CUDA GPU it runs the CPU
# fallback (the same steps, tiny); with --device cuda it refuses (exit 2) instead. Results go to $OUT
# (else benchmarks/out/gpu-check). Extra arguments go to benchmarks.gpu_check (e.g. --budget-s 240).
# The exact `device` tool call that runs it: benchmarks/NOTES.md, "GPU check".
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
exec "$PYTHON" -m benchmarks.gpu_check "$@"
