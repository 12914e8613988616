"""Summarization: a text and its reference summary per row; a sequence-to-sequence model (`AutoModelForSeq2SeqLM`)
trained on the summaries (validation: the loss), whose generated test summaries (`Seq2SeqTrainer` with generation,
`evaluate.generation`) are scored with ROUGE."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelmill.evaluation.generations import mean_rouge
from modelmill.task_types import SUMMARIZATION
from modelmill.task_types.scored import published_scores, scored_evaluation
from modelmill.task_types.splits import UnlabelledRows, require_text

if TYPE_CHECKING:
    import datasets
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from modelmill.config import (
        DataSpec,
        EvaluateSpec,
        ModelSpec,
        TokenizerSpec,
    )
    from modelmill.manifests import DataManifest, Scores

METRICS = ("rouge1", "rouge2", "rougeL", "rougeLsum")
IGNORED = -100


def check_split(part: datasets.Dataset, split: str, source: str, spec: DataSpec) -> None:
    """A DataError naming the source, row and column of a missing, empty or non-text cell."""
    require_text(part, split, source, [spec.text_column, spec.label_column],
                 "summarization reads data.text_column (text) and data.label_column (summary)")


def sentences_on_lines(text: str) -> str:
    """ROUGE-Lsum compares summaries sentence by sentence: one sentence per line (after '. ', '! ', '? ')."""
    import re

    return re.sub(r"(?<=[.!?])\s+", "\n", text.strip())


class Summarization(UnlabelledRows):
    name = SUMMARIZATION
    pipeline_tag = SUMMARIZATION
    columns = ("text", "summary")
    metrics = METRICS
    baselines = ("untuned",)  # evaluate.baselines.must_beat may name these
    not_available = ("sets", "slices", "decision_threshold", "class_thresholds", "retention", "json_schema")
    training_metrics = None  # generating during training is slow: validation reports the loss

    check_split = staticmethod(check_split)

    def tokenize(self, dataset: Any, tokenizer: PreTrainedTokenizerBase, data: DataManifest, spec: TokenizerSpec
                 ) -> Any:
        def encode(batch: dict[str, list]) -> dict[str, list]:
            encoded = tokenizer(batch[data.text_column], truncation=True, max_length=spec.max_length)
            targets = tokenizer(text_target=batch[data.label_column], truncation=True,
                                max_length=spec.max_target_length)
            encoded["labels"] = targets["input_ids"]
            return encoded

        from modelmill.training.tokenizing import encode_splits

        return encode_splits(dataset, encode)

    def load_model(self, model: ModelSpec, labels: list[str]) -> PreTrainedModel:
        from transformers import AutoModelForSeq2SeqLM

        from modelmill.training.loading import load_pretrained, warm_started_encoder_decoder

        return warm_started_encoder_decoder(model) if model.encoder_decoder else load_pretrained(
            AutoModelForSeq2SeqLM, model)

    def collator(self, tokenizer: PreTrainedTokenizerBase) -> Any:
        from transformers import DataCollatorForSeq2Seq

        return DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=IGNORED)

    def score(self, folder: Path, names: list[str], test: datasets.Dataset, data: DataManifest, spec: EvaluateSpec,
              labels: list[str]) -> Scores:
        """ROUGE of the summaries the model in `folder` generates for `test` against the reference summaries."""
        import datasets

        from modelmill.manifests import Scores
        from modelmill.storage.home import local_copy

        references = datasets.load_from_disk(str(local_copy(data.path)))["test"][data.label_column]
        predictions = generate(folder, test, spec)
        metrics = mean_rouge([sentences_on_lines(text) for text in predictions],
                             [sentences_on_lines(text) for text in references], list(spec.metrics))
        return Scores(name="test", num_examples=len(predictions), metrics=metrics)

    evaluate = scored_evaluation
    score_published = published_scores


def generate(model_dir: Path, split: datasets.Dataset, spec: EvaluateSpec) -> list[str]:
    """The summaries `Seq2SeqTrainer` generates for the split, decoded (special tokens dropped)."""
    import torch
    from transformers import (
        AutoModelForSeq2SeqLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        Seq2SeqTrainer,
        Seq2SeqTrainingArguments,
    )

    from modelmill.training.adapters import load_trained

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    with tempfile.TemporaryDirectory(prefix="modelmill-generate-") as scratch:
        trainer = Seq2SeqTrainer(
            model=load_trained(AutoModelForSeq2SeqLM, model_dir),
            args=Seq2SeqTrainingArguments(output_dir=scratch, per_device_eval_batch_size=spec.batch_size,
                                          predict_with_generate=True, report_to=[], disable_tqdm=True,
                                          dataloader_pin_memory=torch.cuda.is_available()),
            data_collator=DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=IGNORED),
            processing_class=tokenizer,
        )
        generated = trainer.predict(split, **spec.generation.options()).predictions
    generated = np.where(generated == IGNORED, tokenizer.pad_token_id, generated)
    return [text.strip() for text in tokenizer.batch_decode(generated, skip_special_tokens=True)]


TASK = Summarization()
