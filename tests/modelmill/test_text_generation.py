"""Instruction tuning's pieces: chat rows checked with their row and field, the answers' tokens alone in the loss,
long rows cut or refused, packing without attention across rows, what the task refuses at load, and the answer
metrics."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from modelmill.config import DataSpec, TokenizerSpec, load_pipelines
from modelmill.manifests import DataManifest
from modelmill.runtime.errors import ConfigError, DataError
from modelmill.task_types.text_generation import TASK, tokenize_rows
from tests.conftest import CHATML, chat_rows, pipeline_dict, write_jsonl


def manifest(tmp_path: Path) -> DataManifest:
    return DataManifest(key="d", path=tmp_path, fingerprint="f", labels=[], label_ids={}, text_column="prompt",
                        label_column="completion", num_rows={}, source="s", task="text-generation")


def tokenized(rows: list[dict[str, Any]], tokenizer: Any, tmp_path: Path, **spec: Any) -> Any:
    import datasets

    return tokenize_rows(datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}), tokenizer,
                         manifest(tmp_path), TokenizerSpec(**spec))["train"]


def turns(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"messages": [{"role": role, "content": content} for role, content in pairs]}


@pytest.mark.parametrize(("row", "problem"), [
    (turns(("user", "what colour is the lime"), ("bot", "green")), "messages[1].role 'bot' is not one of system, "
                                                                   "user, assistant"),
    (turns(("user", "what colour is the lime"), ("assistant", "  ")), "messages[1].content is empty"),
    (turns(("user", "what colour is the lime")), "the conversation ends with a 'user' turn: it must end with the "
                                                 "assistant's answer"),
    (turns(("user", "hi"), ("system", "be brief"), ("assistant", "green")), "messages[1]: a system turn comes first"),
    (turns(("assistant", "green")), "the assistant answers before any user turn"),
    ({"messages": [{"role": "user"}]}, "messages[0] is not a {role, content} turn"),
])
def test_a_bad_chat_row_is_refused_with_its_file_row_and_field(tmp_path, row, problem):
    files = {split: write_jsonl(tmp_path / f"{split}.jsonl", chat_rows(1, 3)) for split in ("train", "validation")}
    files["test"] = write_jsonl(tmp_path / "test.jsonl", [*chat_rows(2, 2), row])
    with pytest.raises(DataError, match=re.escape(f"{files['test']}: row 3: {problem}")):
        TASK.read(DataSpec(files=files))


def test_rows_are_read_as_chat_prompt_completion_or_plain_text_and_every_split_alike(tmp_path):
    chat = {split: write_jsonl(tmp_path / f"chat-{split}.jsonl", chat_rows(1, 2)) for split in ("train", "validation")}
    pairs = [{"prompt": "colour of the lime", "completion": "green"}]
    mixed = {**chat, "test": write_jsonl(tmp_path / "pairs.jsonl", pairs)}
    with pytest.raises(DataError, match=r"the splits are written differently \(train: chat, validation: chat, test: "
                                        r"prompt/completion\)"):
        TASK.read(DataSpec(files=mixed, text_column="prompt", label_column="completion"))
    nothing = {split: write_jsonl(tmp_path / f"x-{split}.jsonl", [{"question": "q"}])
               for split in ("train", "validation", "test")}
    with pytest.raises(DataError, match=re.escape("split 'train': no column 'messages' (chat rows), 'prompt' and "
                                                  "'completion'")):
        TASK.read(DataSpec(files=nothing, text_column="prompt", label_column="completion"))


def test_the_loss_counts_every_assistant_answer_and_its_end_of_turn_only(tiny_chat_dir, tmp_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_chat_dir)
    row = turns(("system", "answer with one word"), ("user", "colour of the lime"), ("assistant", "green"),
                ("user", "colour of the plum"), ("assistant", "purple"))
    [encoded] = tokenized([row], tokenizer, tmp_path).to_list()
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    assert [t for t, m in zip(tokens, encoded["completion_mask"], strict=True) if m] == [
        "green", "<|im_end|>", "purple", "<|im_end|>"]
    assert tokens[:2] == ["<|im_start|>", "system"] and tokens.count("<|im_start|>") == 5  # the template's turns
    # a prompt/completion row is the user's turn and the assistant's answer, rendered by the same template
    [pair] = tokenized([{"prompt": "colour of the lime", "completion": "green"}], tokenizer, tmp_path).to_list()
    assert [t for t, m in zip(tokenizer.convert_ids_to_tokens(pair["input_ids"]), pair["completion_mask"],
                              strict=True) if m] == ["green", "<|im_end|>"]


def test_a_row_longer_than_max_length_is_cut_and_counted_or_refused_with_its_row(tiny_chat_dir, tmp_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_chat_dir)
    long = turns(("user", " ".join(["colour of the lime"] * 5)), ("assistant", "green"))
    rows = [*chat_rows(1, 2), long]
    cut = tokenized(rows, tokenizer, tmp_path, max_length=16)
    assert cut["truncated"] == [0, 0, 1] and max(len(ids) for ids in cut["input_ids"]) == 16
    with pytest.raises(DataError, match=re.escape("split 'train': row 3 is 27 tokens long, over "
                                                  "tokenizer.max_length (16)")):
        tokenized(rows, tokenizer, tmp_path, max_length=16, too_long="refuse")


def test_a_tokenizer_without_a_chat_template_is_told_to_name_one(tiny_chat_dir, tmp_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_chat_dir)
    tokenizer.chat_template = None
    with pytest.raises(ConfigError, match="has no chat template to render chat rows: name a Jinja file in "
                                          "tokenizer.chat_template"):
        tokenized(chat_rows(1, 2), tokenizer, tmp_path)


def test_packed_rows_restart_their_positions_and_never_attend_to_each_other(tiny_chat_dir, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from modelmill.config import TrainSpec
    from modelmill.training.arguments import training_arguments

    tokenizer = AutoTokenizer.from_pretrained(tiny_chat_dir)
    rows = tokenized(chat_rows(1, 6), tokenizer, tmp_path)
    model = AutoModelForCausalLM.from_pretrained(tiny_chat_dir)
    spec = TrainSpec(packing=True, batch_size=8, epochs=1)
    trainer = TASK.trainer(spec, 64, training_arguments(spec, tmp_path / "out"), model=model, train_dataset=rows,
                           eval_dataset=rows, processing_class=tokenizer, data_collator=None, compute_metrics=None)
    batch = next(iter(trainer.get_train_dataloader()))
    # given a packed batch: one sequence, positions restarting at each row, no padding, no attention mask
    assert batch["input_ids"].shape[0] == 1 and "attention_mask" not in batch
    starts = (batch["position_ids"][0] == 0).nonzero().flatten().tolist()
    assert len(starts) == 6 and batch["input_ids"].shape[1] == sum(len(ids) for ids in rows["input_ids"])
    # the loss sees the answers only
    learnt = batch["labels"][0][batch["labels"][0] != -100].tolist()
    assert set(tokenizer.convert_ids_to_tokens(learnt)) <= {"<|im_end|>", "yellow", "red", "green", "purple",
                                                            "orange", "blue"}
    # then each row's logits are those it has alone: nothing attends across rows
    model.eval()
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits[0]
        bounds = [*starts, batch["input_ids"].shape[1]]
        for start, end in zip(bounds, bounds[1:]):
            alone = model(input_ids=batch["input_ids"][:, start:end]).logits[0]
            assert torch.allclose(packed[start:end], alone, atol=1e-5)


def test_text_generation_settings_are_checked_at_load_and_refused_elsewhere(write_pipelines, tiny_chat_dir, tmp_path):
    files = {split: write_jsonl(tmp_path / f"{split}.jsonl", chat_rows(1, 3)) for split in ("train", "validation",
                                                                                           "test")}
    template = tmp_path / "chatml.jinja"
    template.write_text(CHATML, encoding="utf-8")

    def spec(task: str = "text-generation", **changes: Any) -> Any:
        pipeline = pipeline_dict(tiny_chat_dir, files)
        pipeline.update(task=task, data={"files": {k: str(v) for k, v in files.items()}}, evaluate={})
        del pipeline["validation"]
        for section, values in changes.items():
            pipeline[section] = {**pipeline.get(section, {}), **values}
        return load_pipelines(write_pipelines({"chat": pipeline})).pipelines["chat"]

    pipeline = spec(tokenizer={"chat_template": "chatml.jinja"}, train={"packing": True})
    assert pipeline.evaluate.metrics == ["exact_match", "token_f1", "rougeL", "perplexity"]
    assert pipeline.evaluate.baselines.must_beat == ["untuned"] and pipeline.tokenizer.chat_template == template
    assert pipeline.train.completion_only_loss is True
    for task, changes, message in [
        ("text-classification", {"tokenizer": {"chat_template": "chatml.jinja"}},
         "tokenizer.chat_template is for task text-generation; remove it"),
        ("text-classification", {"train": {"packing": True}}, "train.packing is for task text-generation"),
        ("summarization", {"evaluate": {"generation": {"stop_strings": ["\n"]}}},
         "evaluate.generation.stop_strings is for task text-generation"),
        ("text-generation", {"evaluate": {"metrics": ["accuracy"]}}, "evaluate.metrics: ['accuracy'] are not "
                                                                     "text-generation metrics"),
        ("text-generation", {"model": {"gguf_file": "../x.gguf"}}, "model.gguf_file"),
        ("text-generation", {"evaluate": {"slices": [{"column": "x"}]}}, "evaluate.slices is not available"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            spec(task, **changes)


def test_answers_are_scored_on_normalised_words_and_json_against_a_schema(tmp_path):
    from modelmill.evaluation.generations import generation_metrics, read_schema

    schema_file = tmp_path / "ticket.schema.json"
    schema_file.write_text('{"type": "object", "required": ["team"], "properties": {"team": {"enum": ["billing"]}}}')
    schema = read_schema(schema_file)
    answers = ['{"team": "billing"}', '{"team": "shipping"}', "The Green.", "not json"]
    references = ['{"team": "billing"}', '{"team": "billing"}', "green", "a red plum"]
    metrics = generation_metrics(answers, references, ["exact_match", "token_f1", "json_valid"], schema)
    assert metrics["exact_match"] == pytest.approx(2 / 4)  # articles, case and punctuation do not count
    assert metrics["json_valid"] == pytest.approx(1 / 4)  # parses, but the team is not one the schema allows
    assert 0.5 < metrics["token_f1"] < 1
    schema_file.write_text('{"type": "nonsense"}')
    with pytest.raises(ValueError, match=re.escape(f"{schema_file}: not a valid JSON Schema")):
        read_schema(schema_file)


def test_check_finds_what_tokenizing_would_refuse_with_the_file_and_row(write_pipelines, tiny_chat_dir, tmp_path):
    long = turns(("user", " ".join(["colour of the lime"] * 5)), ("assistant", "green"))
    files = {split: write_jsonl(tmp_path / f"{split}.jsonl", chat_rows(1, 3)) for split in ("train", "validation")}
    files["test"] = write_jsonl(tmp_path / "test.jsonl", [*chat_rows(2, 2), long])
    pipeline = pipeline_dict(tiny_chat_dir, files)
    pipeline.update(task="text-generation", data={"files": {k: str(v) for k, v in files.items()}}, evaluate={},
                    tokenizer={"max_length": 16, "too_long": "refuse"})
    del pipeline["validation"]
    spec = load_pipelines(write_pipelines({"chat": pipeline})).pipelines["chat"]
    problems, _ = TASK.check_files("pipelines.chat", spec)
    assert problems == [f"pipelines.chat.tokenizer: {files['test']}: split 'test': row 3 is 27 tokens long, over "
                        "tokenizer.max_length (16); raise it, shorten the row, or set tokenizer.too_long: truncate"]
    # a template file that cannot tell the answers apart (it writes the conversation's length first) is found too
    (tmp_path / "odd.jinja").write_text("{{ messages | length }}" + CHATML, encoding="utf-8")
    pipeline["tokenizer"] = {"chat_template": "odd.jinja"}
    spec = load_pipelines(write_pipelines({"chat": pipeline})).pipelines["chat"]
    [problem] = TASK.check_files("pipelines.chat", spec)[0]
    assert problem.startswith("pipelines.chat.tokenizer: the chat template renders the start of a conversation "
                              "differently")
