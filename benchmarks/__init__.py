"""The speed benchmark: the same training run through ``transformers.Trainer`` (as a tutorial writes it,
and at its best) and through this project's core, interleaved in one process so all see the same machine
load; and the GPU check (``gpu_check``), which runs it on a lent GPU from carried files."""
