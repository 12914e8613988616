"""Masked-language modelling (`task: fill-mask`): continue a model's pretraining on unlabelled in-domain text (one
text column), the domain adaptation that comes before fine-tuning. 15% of the tokens are masked (80% of those
replaced by the mask token, 10% by a random one, 10% kept), as transformers' `run_mlm.py` does line by line.
Validation reports the masked-LM loss; the test split's loss and perplexity are measured with masks drawn from a
fixed seed, so the same model always gets the same figures."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmill.runtime.errors import DataError
from modelmill.task_types import FILL_MASK
from modelmill.task_types.scored import published_scores, scored_evaluation
from modelmill.task_types.splits import UnlabelledRows, require_text

if TYPE_CHECKING:
    import datasets
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from modelmill.config import DataSpec, EvaluateSpec, ModelSpec, PipelineSpec, RetentionSpec, TokenizerSpec
    from modelmill.manifests import (
        DataManifest,
        EvaluationReport,
        MetricCheck,
        ModelManifest,
        Scores,
        TokenizedManifest,
    )

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

    from modelmill.evaluation.batches import saved_model

    return mean_masked_loss(*saved_model(AutoModelForMaskedLM, str(model_dir)), split, batch_size)


def mean_masked_loss(model: Any, tokenizer: Any, device: Any, split: datasets.Dataset, batch_size: int) -> float:
    """`model`'s mean loss over the masked tokens of the split, with masks drawn from MASK_SEED."""
    from modelmill.evaluation.batches import model_batches

    total, count = 0.0, 0
    for _, batch, output in model_batches(model, tokenizer, device, split, batch_size,
                                          masking(tokenizer, seed=MASK_SEED), extra=["special_tokens_mask"]):
        masked = int((batch["labels"] != -100).sum())
        if masked:  # a batch without a masked token has no loss (NaN)
            total += float(output.loss) * masked
            count += masked
    return total / count if count else float("nan")


def loss_scores(name: str, loss: float, rows: int) -> Scores:
    from modelmill.manifests import Scores

    return Scores(name=name, num_examples=rows, metrics={"mlm_loss": loss,
                                                         "perplexity": math.exp(loss) if loss < 700 else math.inf})


def base_masked_lm(started_from: ModelSpec, seed: int) -> tuple[Any, list[str]]:
    """The model the adaptation started from, as a masked LM (a config-built one with the weights `seed` gives),
    and the weights it lacked (a model saved without a masked-LM head gets a new, untrained one)."""
    from transformers import AutoModelForMaskedLM, set_seed

    from modelmill.training.loading import load_pretrained

    set_seed(seed)
    if started_from.from_config:
        return load_pretrained(AutoModelForMaskedLM, started_from), []
    model, info = load_pretrained(AutoModelForMaskedLM, started_from, output_loading_info=True)
    return model, list(info["missing_keys"])


def read_retention(spec: RetentionSpec, text_column: str) -> datasets.Dataset:
    """The retention set's rows; a DataError names the file and the row or column at fault."""
    from modelmill.data.files import file_format, read_file

    rows = read_file(spec.file, file_format(spec, spec.file))
    require_text(rows, "retention", f"{spec.file} (evaluate.retention)", [text_column],
                 "the retention set has data.text_column")
    return rows


def retention(model: ModelManifest, spec: RetentionSpec, data: DataManifest, max_length: int, batch_size: int
              ) -> tuple[list[Scores], list[MetricCheck], list[str]]:
    """The base model's and the adapted one's masked-LM loss on the retention set (the same masks), the
    `max_increase` gate, and a warning when the base had no masked-LM head to compare with."""
    from transformers import AutoModelForMaskedLM

    from modelmill.evaluation.batches import saved_model
    from modelmill.manifests import RETENTION_SCOPE, MetricCheck
    from modelmill.storage.home import local_copy

    rows = read_retention(spec, data.text_column)
    adapted, tokenizer, device = saved_model(AutoModelForMaskedLM, str(local_copy(model.path)))
    general = rows.map(lambda batch: tokenizer(batch[data.text_column], truncation=True, max_length=max_length,
                                               return_special_tokens_mask=True), batched=True)
    after = mean_masked_loss(adapted, tokenizer, device, general, batch_size)
    assert model.started_from is not None
    base, missing = base_masked_lm(model.started_from, model.seed)
    before = mean_masked_loss(base.to(device).eval(), tokenizer, device, general, batch_size)
    scores = [loss_scores(f"base model ({model.base_model})", before, general.num_rows),
              loss_scores("adapted", after, general.num_rows)]
    checks = [] if spec.max_increase is None else [
        MetricCheck(metric="mlm_loss increase", value=after - before, max=spec.max_increase, scope=RETENTION_SCOPE)]
    warnings = [(f"the base model has no masked-LM head ({len(missing)} weights new): its retention loss is that of "
                 "an untrained head, the comparison overstates what the adapted model kept")] if missing else []
    return scores, checks, warnings


class FillMask(UnlabelledRows):
    name = FILL_MASK
    pipeline_tag = FILL_MASK
    columns = ("text", "label")  # one text column; no label is read
    metrics = METRICS
    baselines = ("untuned",)  # evaluate.baselines.must_beat may name these
    not_available = ("sets", "slices", "decision_threshold", "class_thresholds", "generation", "json_schema")
    training_metrics = None  # validation: the masked-LM loss
    check_split = staticmethod(check_split)

    def check_files(self, where: str, spec: PipelineSpec) -> tuple[list[str], dict[str, list[str]]]:
        problems, columns = super().check_files(where, spec)
        retained = spec.evaluate.retention
        if retained is not None and isinstance(retained.file, Path):  # a URL is read when the run evaluates
            try:
                read_retention(retained, spec.data.text_column)
            except DataError as exc:
                problems.append(f"{where}.evaluate.retention.file: {exc}")
        return problems, columns

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

    def score(self, folder: Path, names: list[str], test: datasets.Dataset, data: DataManifest, spec: EvaluateSpec,
              labels: list[str]) -> Scores:
        """The masked-LM loss and perplexity of the model in `folder` on `test` (fixed masks)."""
        measured = loss_scores("test", masked_lm_loss(folder, test, spec.batch_size), test.num_rows)
        return measured.model_copy(update={"metrics": {name: measured.metrics[name] for name in spec.metrics}})

    score_published = published_scores

    def evaluate(self, model: ModelManifest, tokens: TokenizedManifest, data: DataManifest, spec: EvaluateSpec,
                 key: str, output: Path) -> EvaluationReport:
        """The test split's masked-LM loss and perplexity (fixed masks), the gates and the training curve; with a
        retention set, the base and the adapted model's loss on it and its `max_increase` gate."""
        report = scored_evaluation(self, model, tokens, data, spec, key, output)
        if spec.retention is None:
            return report
        kept, checks, warnings = retention(model, spec.retention, data, tokens.max_length, spec.batch_size)
        return report.model_copy(update={"checks": [*report.checks, *checks], "retention": kept,
                                         "warnings": [*report.warnings, *warnings]})


TASK = FillMask()
