"""Training: the `TrainingArguments` a spec resolves to, and (as it grows) launching one process, torchrun or Ray."""
