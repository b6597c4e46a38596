#!/usr/bin/env bash
# A whole comparison on the lent GPU (benchmarks/gpu_compare.py says what it runs), from the folder
# `python -m benchmarks.pack_gpu_assets` writes and the wheels in .whl/ (Optuna and what it needs, built for the
# GPU machine's Python), both carried. Without a CUDA GPU it runs the CPU fallback. Results go to $OUT (else
# benchmarks/out/gpu-compare). Extra arguments go to benchmarks.gpu_compare. The exact `device` tool call:
# benchmarks/NOTES.md, "A whole comparison on one GPU".
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
if compgen -G ".whl/*.whl" > /dev/null; then  # carried wheels: installed beside the machine's own packages
  site="${TMPDIR:-/tmp}/peftbench-site"
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1 OMP_WAIT_POLICY=PASSIVE
exec "$PYTHON" -m benchmarks.gpu_compare "$@"
