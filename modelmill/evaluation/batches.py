"""Running a saved model over a tokenized split, batch by batch, on the GPU when there is one: the loop every task
type's evaluation shares."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datasets


def saved_model(auto_class: Any, model_dir: str) -> tuple[Any, Any, Any]:
    """The model saved in `model_dir` as `auto_class` (an AutoModelFor... class; an adapter: on its base), in eval
    mode on the GPU when there is one, its tokenizer and its device."""
    import torch
    from transformers import AutoTokenizer

    from modelmill.training.adapters import load_trained

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = load_trained(auto_class, model_dir).to(device).eval()
    return model, AutoTokenizer.from_pretrained(model_dir), device


def model_batches(
    model: Any, tokenizer: Any, device: Any, split: datasets.Dataset, batch_size: int,
    collate: Callable[[list[dict[str, Any]]], Any], extra: Sequence[str] = (),
) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any], Any]]:
    """The split in order, `batch_size` rows at a time (each with the model's input columns and the `extra` ones
    the split has): the rows, the batch `collate` made of them (on the model's device), and the model's output on
    it, without gradients."""
    import torch

    inputs = split.select_columns([name for name in (*tokenizer.model_input_names, *extra)
                                   if name in split.column_names])
    with torch.inference_mode():
        for start in range(0, split.num_rows, batch_size):
            columns = inputs[start:start + batch_size]
            rows = [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
            batch = {name: value.to(device) for name, value in collate(rows).items()}
            yield rows, batch, model(**batch)
