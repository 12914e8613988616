"""A published model (the champion of `evaluate.promote`) is scored by each task type exactly as its own evaluation
scores a new model: the raw test split made into inputs by the published model's own tokenizer, then the same
scoring (windows for QA, tags by name, generated summaries)."""

from __future__ import annotations

import pytest

from modelmill.config import DataSpec, EvaluateSpec, ModelSpec, TokenizerSpec
from modelmill.manifests import DataManifest
from modelmill.task_types import task_type
from tests.conftest import ner_rows, qa_rows, summary_rows, write_jsonl

CASES = {  # task -> its rows, its columns, its evaluate section, whether its model is built from its config
    "token-classification": (ner_rows, ("tokens", "tags"), {"metrics": ["precision", "recall", "f1"]}, False),
    "question-answering": (qa_rows, ("context", "answers"), {"metrics": ["exact_match", "f1"]}, False),
    "summarization": (summary_rows, ("text", "summary"), {"metrics": ["rouge1", "rougeL"],
                                                          "generation": {"max_new_tokens": 6}}, True),
}


@pytest.mark.parametrize("task", sorted(CASES))
def test_a_published_model_is_scored_as_its_own_evaluation_scores_it(task, tiny_model_dir, tiny_seq2seq_dir,
                                                                       tmp_path):
    import torch
    from transformers import AutoTokenizer

    rows, (text, label), evaluate, from_config = CASES[task]
    kind, folder = task_type(task), tiny_seq2seq_dir if from_config else tiny_model_dir
    files = {split: write_jsonl(tmp_path / f"{split}.jsonl", rows(seed, 6)) for seed, split in
             enumerate(("train", "validation", "test"))}
    dataset, labels, label_ids, source = kind.read(DataSpec(files=files, text_column=text, label_column=label))
    dataset.save_to_disk(str(tmp_path / "data"))
    data = DataManifest(key="k", path=tmp_path / "data", fingerprint="f", labels=labels, label_ids=label_ids,
                        text_column=text, label_column=label, num_rows=dict(dataset.num_rows), source=source, task=task)
    settings, spec = TokenizerSpec(max_length=24, stride=6, max_target_length=8), EvaluateSpec(**evaluate)
    torch.manual_seed(0)
    published = tmp_path / "published"
    kind.load_model(ModelSpec(name_or_path=str(folder), from_config=from_config), labels).save_pretrained(published)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.save_pretrained(published)
    own = kind.score(published, labels, kind.tokenize(dataset, tokenizer, data, settings)["test"], data, spec, labels)
    scores, sets = kind.score_published(published, labels, data, labels, spec, settings)
    assert scores == {**own.metrics, **own.per_class} and set(own.metrics) >= set(spec.metrics) and sets == {}
    assert own.num_examples == 6, "every test row scored once (QA: its best span over its windows)"
