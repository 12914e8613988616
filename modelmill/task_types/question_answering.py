"""Extractive question answering (SQuAD style): a context, a question and the answers (text and start character)
per row; the model points at the answer's first and last token. Long contexts are cut into windows that overlap by
`tokenizer.stride` tokens; predictions are mapped back to the context's text; questions without an answer (SQuAD 2.0)
are answered with nothing when the model's "no answer" score wins. Scored with exact match and F1 (SQuAD)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelmill.data.folders import at_row
from modelmill.runtime.errors import ConfigError, DataError
from modelmill.task_types import QUESTION_ANSWERING
from modelmill.task_types.scored import published_scores, scored_evaluation
from modelmill.task_types.splits import UnlabelledRows, require_columns

if TYPE_CHECKING:
    import datasets
    from transformers import EvalPrediction, PreTrainedModel, PreTrainedTokenizerBase

    from modelmill.config import (
        DataSpec,
        EvaluateSpec,
        ModelSpec,
        TokenizerSpec,
    )
    from modelmill.manifests import DataManifest, Scores

QUESTION = "question"  # the question column (data.text_column is the context, data.label_column the answers)
EXAMPLE = "example_index"  # a window's row in its split
OFFSETS = "offset_mapping"  # a window's character span of each token in the context; (-1, -1) outside it
OUTSIDE = [-1, -1]
N_BEST = 20  # start and end candidates per window (transformers' run_qa.py)
MAX_ANSWER_TOKENS = 30
METRICS = ("exact_match", "f1")
ANSWER_KEYS = frozenset({"text", "answer_start"})


def answer_problem(context: Any, question: Any, answers: Any) -> str | None:
    """Why one row cannot be trained on, naming the column; None when it can."""
    if not isinstance(context, str) or not context.strip():
        return "the context is empty or not text"
    if not isinstance(question, str) or not question.strip():
        return f"column '{QUESTION}' is empty or not text"
    shape = "answers must be {text: [...], answer_start: [...]}"
    if not isinstance(answers, dict):
        return shape
    given = {key for key, value in answers.items() if value is not None}  # Arrow gives every row every key
    missing, unknown = sorted(ANSWER_KEYS - given), sorted(given - ANSWER_KEYS)
    if missing:
        return f"answers has no {missing}" + (f" but has {unknown} (a typo?)" if unknown else "") + f": {shape}"
    texts, starts = answers["text"], answers["answer_start"]
    if not isinstance(texts, list) or not isinstance(starts, list):
        return shape
    if len(texts) != len(starts):
        return f"answers has {len(texts)} text(s) and {len(starts)} answer_start(s)"
    for text, start in zip(texts, starts, strict=True):
        if not isinstance(start, int) or isinstance(start, bool) or start < 0:
            return f"answer_start {start!r} of answer {text!r} is not a character position (a whole number, 0 or more)"
        if not isinstance(text, str) or context[start:start + len(text)] != text:
            return f"answer {text!r} is not at character {start} of the context"
    return None


def check_split(part: datasets.Dataset, split: str, source: str, spec: DataSpec) -> bool:
    """Whether the split has questions without an answer; a DataError names the source, row and column."""
    columns = [spec.text_column, QUESTION, spec.label_column]
    require_columns(part, split, source, columns, f"question-answering reads data.text_column (context), "
                    f"'{QUESTION}' and data.label_column (answers)")
    unanswerable = False
    for row, values in enumerate(zip(*(part[name] for name in columns), strict=True), 1):
        problem = answer_problem(*values)
        if problem:
            where = at_row(source, part, row)
            raise DataError(f"{where}: column '{spec.label_column}': {problem}"
                            if problem.startswith(("answer", "answers")) else f"{where}: {problem}")
        unanswerable |= not values[2]["text"]
    return unanswerable


def windows(tokenizer: PreTrainedTokenizerBase, questions: list[str], contexts: list[str], answers: list[dict],
            indexes: list[int], max_length: int, stride: int) -> dict[str, list]:
    """Question + context windows of at most `max_length` tokens, overlapping by `stride`: each with the answer's
    first and last token (the first token, [CLS], when the answer is not wholly inside), its example's index and
    the context offsets of its tokens."""
    encoded = tokenizer([question.lstrip() for question in questions], contexts, truncation="only_second",
                        max_length=max_length, stride=stride, return_overflowing_tokens=True,
                        return_offsets_mapping=True)
    samples = encoded.pop("overflow_to_sample_mapping")
    starts, ends, examples, offsets = [], [], [], []
    for window, spans in enumerate(encoded[OFFSETS]):
        sequence = encoded.sequence_ids(window)
        example = samples[window]
        context_tokens = [index for index, part in enumerate(sequence) if part == 1]
        gold = answers[example]
        start = end = 0
        if gold["text"] and context_tokens:
            first_char = gold["answer_start"][0]
            last_char = first_char + len(gold["text"][0])
            first, last = context_tokens[0], context_tokens[-1]
            if spans[first][0] <= first_char and spans[last][1] >= last_char:
                start = next(i for i in context_tokens if spans[i][1] > first_char)
                end = next(i for i in reversed(context_tokens) if spans[i][0] < last_char)
        starts.append(start)
        ends.append(end)
        examples.append(indexes[example])
        offsets.append([list(span) if part == 1 else OUTSIDE for span, part in zip(spans, sequence, strict=True)])
    encoded[OFFSETS] = offsets
    return {**encoded, "start_positions": starts, "end_positions": ends, EXAMPLE: examples}


def best_answer(start_logits: np.ndarray, end_logits: np.ndarray, offsets: list[list[list[int]]], context: str,
                allow_empty: bool) -> str:
    """The answer of one example from the logits of its windows: the best-scoring valid span (start + end logit),
    or nothing when the example may have no answer and the windows' lowest no-answer score beats it."""
    best, best_text, null = -np.inf, "", np.inf
    for starts, ends, spans in zip(start_logits, end_logits, offsets, strict=True):
        null = min(null, starts[0] + ends[0])
        for start in np.argsort(starts)[-N_BEST:][::-1]:
            for end in np.argsort(ends)[-N_BEST:][::-1]:
                if start >= len(spans) or end >= len(spans) or spans[start] == OUTSIDE or spans[end] == OUTSIDE:
                    continue
                if end < start or end - start + 1 > MAX_ANSWER_TOKENS:
                    continue
                if starts[start] + ends[end] > best:
                    best, best_text = starts[start] + ends[end], context[spans[start][0]:spans[end][1]]
    return "" if allow_empty and null > best else best_text


class QuestionAnswering(UnlabelledRows):
    name = QUESTION_ANSWERING
    pipeline_tag = QUESTION_ANSWERING
    columns = ("context", "answers")
    metrics = METRICS
    baselines = ()  # evaluate.baselines.must_beat may name these
    not_available = ("sets", "slices", "decision_threshold", "baselines", "class_thresholds",  # no classes
                     "generation", "retention", "json_schema")

    check_split = staticmethod(check_split)  # every answer is checked against its context as it is read

    def tokenize(self, dataset: Any, tokenizer: PreTrainedTokenizerBase, data: DataManifest, spec: TokenizerSpec
                 ) -> Any:
        if not tokenizer.is_fast:
            raise ConfigError(f"question-answering needs a fast tokenizer (offsets into the context); "
                              f"{type(tokenizer).__name__} is not one")
        max_length = spec.max_length
        overlap = spec.stride if spec.stride is not None else max_length // 4
        if tokenizer.padding_side != "right":
            raise ConfigError("question-answering puts the question first: the tokenizer must pad on the right")

        def encode(batch: dict[str, list], indexes: list[int]) -> dict[str, list]:
            return windows(tokenizer, batch[QUESTION], batch[data.text_column], batch[data.label_column], indexes,
                           max_length, overlap)

        from modelmill.training.tokenizing import encode_splits

        return encode_splits(dataset, encode, with_indices=True)

    def load_model(self, model: ModelSpec, labels: list[str]) -> PreTrainedModel:
        from transformers import AutoModelForQuestionAnswering

        from modelmill.training.loading import load_pretrained

        return load_pretrained(AutoModelForQuestionAnswering, model)

    def collator(self, tokenizer: PreTrainedTokenizerBase) -> Any:
        from transformers import DataCollatorWithPadding

        return DataCollatorWithPadding(tokenizer)

    def training_metrics(self, prediction: EvalPrediction) -> dict[str, float]:
        """Windows whose predicted first and last answer tokens are both the labelled ones."""
        start_logits, end_logits = prediction.predictions[:2]
        starts, ends = prediction.label_ids
        right = (start_logits.argmax(-1) == starts) & (end_logits.argmax(-1) == ends)
        return {"accuracy": float(right.mean()) if len(right) else 0.0}

    def score(self, folder: Path, names: list[str], test: datasets.Dataset, data: DataManifest, spec: EvaluateSpec,
              labels: list[str]) -> Scores:
        """Exact match and F1 (SQuAD) of the model in `folder` on the test windows `test` (made by its tokenizer):
        each question's best span over its windows, mapped back to the context's text."""
        import datasets

        from modelmill.manifests import Scores
        from modelmill.metrics import load_metric
        from modelmill.storage.home import local_copy

        raw = datasets.load_from_disk(str(local_copy(data.path)))["test"]
        start_logits, end_logits = predict_spans(folder, test, spec.batch_size)
        contexts, answers = raw[data.text_column], raw[data.label_column]
        allow_empty = any(not gold["text"] for gold in answers)
        by_example: dict[int, list[int]] = {}
        for window, example in enumerate(test[EXAMPLE]):
            by_example.setdefault(example, []).append(window)
        offsets = test[OFFSETS]
        predicted = []
        for example in range(raw.num_rows):
            chosen = by_example.get(example, [])
            predicted.append(best_answer([start_logits[i] for i in chosen], [end_logits[i] for i in chosen],
                                         [offsets[i] for i in chosen], contexts[example], allow_empty))
        scores = load_metric("squad").compute(
            predictions=[{"id": str(i), "prediction_text": text} for i, text in enumerate(predicted)],
            references=[{"id": str(i), "answers": gold} for i, gold in enumerate(answers)])
        unknown = [name for name in spec.metrics if name not in METRICS]
        if unknown:
            raise ConfigError(f"evaluate.metrics: {unknown} are not question-answering metrics ({', '.join(METRICS)})")
        return Scores(name="test", num_examples=raw.num_rows,
                      metrics={name: scores[name] / 100 for name in spec.metrics})

    evaluate = scored_evaluation
    score_published = published_scores


def predict_spans(model_dir: Path, windows_: datasets.Dataset, batch_size: int) -> tuple[list[np.ndarray], ...]:
    """The start and end logits of every window (each as long as the window)."""
    from transformers import AutoModelForQuestionAnswering, DataCollatorWithPadding

    from modelmill.evaluation.batches import model_batches, saved_model

    model, tokenizer, device = saved_model(AutoModelForQuestionAnswering, str(model_dir))
    starts, ends = [], []
    for rows, _, output in model_batches(model, tokenizer, device, windows_, batch_size,
                                         DataCollatorWithPadding(tokenizer)):
        for row, start, end in zip(rows, output.start_logits.cpu().numpy(), output.end_logits.cpu().numpy(),
                                   strict=True):
            starts.append(start[:len(row["input_ids"])])
            ends.append(end[:len(row["input_ids"])])
    return starts, ends


TASK = QuestionAnswering()
