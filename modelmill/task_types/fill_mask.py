"""Masked-language modelling (`task: fill-mask`): continue a model's pretraining on unlabelled in-domain text (one
text column), the domain adaptation that comes before fine-tuning. 15% of the tokens are masked (80% of those
replaced by the mask token, 10% by a random one, 10% kept), as transformers' `run_mlm.py` does line by line.
Validation reports the masked-LM loss; the test split's loss and perplexity are measured with masks drawn from a
fixed seed, so the same model always gets the same figures."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmill.task_types import FILL_MASK
from modelmill.task_types.splits import UnlabelledRows, require_text

if TYPE_CHECKING:
    import datasets
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from modelmill.config import DataSpec, EvaluateSpec, ModelSpec, TokenizerSpec
    from modelmill.manifests import DataManifest, EvaluationReport, ModelManifest, TokenizedManifest

METRICS = ("perplexity", "mlm_loss")
MASKED = 0.15
MASK_SEED = 0  # the test split's masks


def check_split(part: datasets.Dataset, split: str, source: str, spec: DataSpec) -> None:
    """A DataError naming the source, row and column of a missing, empty or non-text cell."""
    require_text(part, split, source, [spec.text_column], "fill-mask reads data.text_column")


def masking(tokenizer: PreTrainedTokenizerBase, seed: int | None = None) -> Any:
    from transformers import DataCollatorForLanguageModeling

    return DataCollatorForLanguageModeling(tokenizer, mlm_probability=MASKED, seed=seed)


def masked_lm_loss(model_dir: Path, split: datasets.Dataset, batch_size: int) -> float:
    """The mean loss over the masked tokens of the split, with masks drawn from MASK_SEED."""
    from transformers import AutoModelForMaskedLM

    from modelmill.evaluation.batches import model_batches, saved_model

    model, tokenizer, device = saved_model(AutoModelForMaskedLM, str(model_dir))
    total, count = 0.0, 0
    for _, batch, output in model_batches(model, tokenizer, device, split, batch_size,
                                          masking(tokenizer, seed=MASK_SEED), extra=["special_tokens_mask"]):
        masked = int((batch["labels"] != -100).sum())
        if masked:  # a batch without a masked token has no loss (NaN)
            total += float(output.loss) * masked
            count += masked
    return total / count if count else float("nan")


class FillMask(UnlabelledRows):
    name = FILL_MASK
    pipeline_tag = FILL_MASK
    columns = ("text", "label")  # one text column; no label is read
    metrics = METRICS
    not_available = ("sets", "slices", "decision_threshold", "promote", "baselines", "class_thresholds",
                     "generation")
    training_metrics = None  # validation: the masked-LM loss
    check_split = staticmethod(check_split)

    def tokenize(self, dataset: Any, tokenizer: PreTrainedTokenizerBase, data: DataManifest, spec: TokenizerSpec
                 ) -> Any:
        def encode(batch: dict[str, list]) -> dict[str, list]:
            return tokenizer(batch[data.text_column], truncation=True, max_length=spec.max_length,
                             return_special_tokens_mask=True)

        from modelmill.training.tokenizing import encode_splits

        return encode_splits(dataset, encode)

    def load_model(self, model: ModelSpec, labels: list[str]) -> PreTrainedModel:
        from transformers import AutoModelForMaskedLM

        from modelmill.training.loading import load_pretrained

        return load_pretrained(AutoModelForMaskedLM, model)

    def collator(self, tokenizer: PreTrainedTokenizerBase) -> Any:
        return masking(tokenizer)  # the Trainer's seed draws the training masks

    def evaluate(self, model: ModelManifest, tokens: TokenizedManifest, data: DataManifest, spec: EvaluateSpec,
                 key: str, output: Path) -> EvaluationReport:
        """The test split's masked-LM loss and perplexity (fixed masks); the gates; the training curve."""
        import datasets

        from modelmill.evaluation.figures import publish_training_curve
        from modelmill.evaluation.gates import check_thresholds
        from modelmill.manifests import EvaluationReport
        from modelmill.storage.home import local_copy

        test = datasets.load_from_disk(str(local_copy(tokens.path)))["test"]
        loss = masked_lm_loss(local_copy(model.path), test, spec.batch_size)
        measured = {"mlm_loss": loss, "perplexity": math.exp(loss) if loss < 700 else math.inf}
        metrics = {name: measured[name] for name in spec.metrics}
        publish_training_curve(model, output)
        return EvaluationReport(key=key, metrics=metrics, checks=check_thresholds(metrics, spec.thresholds),
                                num_examples=test.num_rows, figures=output)


TASK = FillMask()
