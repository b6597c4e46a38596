"""The speed benchmark: the same training run through ``transformers.Trainer`` (the path a user would
write) and through this project's core, interleaved in one process so both see the same machine load."""
