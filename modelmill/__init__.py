"""modelmill: declarative fine-tuning pipelines on Prefect."""

__version__ = "0.1.0"
