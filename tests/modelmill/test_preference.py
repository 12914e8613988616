"""Preference rows and settings: what is refused before any work (with the row and column), how pairs are tokenized,
and which settings belong to which task type."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from modelmill.config import PipelinesFile, PipelineSpec, TokenizerSpec
from modelmill.runtime.errors import DataError
from modelmill.task_types.preference import encode_pair, pair_problem
from tests.conftest import CHATML, pipeline_dict

USER = [{"role": "user", "content": "what colour is the lime"}]


@pytest.mark.parametrize(("row", "problem"), [
    ({"prompt": "", "chosen": "green", "rejected": "red"}, "column 'prompt' is empty"),
    ({"prompt": USER, "chosen": "green", "rejected": "green"}, "chosen and rejected are the same answer"),
    ({"prompt": [{"role": "bot", "content": "hi"}], "chosen": "green", "rejected": "red"},
     "prompt[0] is not a {role, content} turn"),
    ({"prompt": USER + [{"role": "assistant", "content": "green"}], "chosen": "a", "rejected": "b"},
     "prompt ends with a 'assistant' turn: it must end with the user's"),
    ({"prompt": USER, "chosen": [{"role": "user", "content": "green"}], "rejected": "red"},
     "chosen ends with a 'user' turn: it must end with the assistant's"),
    ({"prompt": USER, "chosen": 7, "rejected": "red"}, "column 'chosen' is neither text nor a list"),
])
def test_a_bad_pair_is_named_by_its_column(row, problem):
    assert problem in pair_problem(row)


def test_text_and_chat_pairs_encode_alike_and_answers_are_cut_to_fit(tiny_chat_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_chat_dir)
    tokenizer.chat_template = CHATML
    text = encode_pair(tokenizer, {"prompt": "what colour is the lime", "chosen": "green", "rejected": "red"},
                       TokenizerSpec(max_length=32), "row 1")
    chat = encode_pair(tokenizer, {"prompt": USER, "chosen": [{"role": "assistant", "content": "green"}],
                                   "rejected": [{"role": "assistant", "content": "red"}]},
                       TokenizerSpec(max_length=32), "row 1")
    assert text == chat
    assert text["prompt"].endswith("<|im_start|>assistant\n") and text["chosen"] == "green<|im_end|>\n"
    assert tokenizer.decode(text["prompt_ids"] + text["chosen_ids"]).replace(" ", "").startswith("<|im_start|>user")
    tight = len(text["prompt_ids"]) + 1
    cut = encode_pair(tokenizer, {"prompt": USER, "chosen": "green green", "rejected": "red"},
                      TokenizerSpec(max_length=tight), "row 1")
    assert len(cut["chosen_ids"]) == 1
    with pytest.raises(DataError, match="row 1: prompt and chosen answer are .* over tokenizer.max_length"):
        encode_pair(tokenizer, {"prompt": USER, "chosen": "green green", "rejected": "red"},
                    TokenizerSpec(max_length=tight, too_long="refuse"), "row 1")
    with pytest.raises(DataError, match="the prompt alone is"):
        encode_pair(tokenizer, {"prompt": USER, "chosen": "green", "rejected": "red"},
                    TokenizerSpec(max_length=len(text["prompt_ids"])), "row 1")


def files(folder, suffix: str = "jsonl") -> dict:
    return {split: folder / f"{split}.{suffix}" for split in ("train", "validation", "test")}


def preference_dict(tiny_chat_dir, **train) -> dict:
    spec = pipeline_dict(tiny_chat_dir, files(tiny_chat_dir))
    spec.update(task="preference", evaluate={}, validation={"expectations": []})
    spec["data"] = {"files": spec["data"]["files"]}
    spec["train"].update(train)
    return spec


def test_preference_settings_belong_to_preference_and_chain_after_instruction_tuning(tiny_chat_dir):
    spec = PipelineSpec.model_validate(preference_dict(tiny_chat_dir, objective="orpo", beta=0.5))
    assert spec.evaluate.metrics == ["reward_margin", "preference_accuracy"]
    assert spec.evaluate.baselines.must_beat == ["reference"]
    classifier = pipeline_dict(tiny_chat_dir, files(tiny_chat_dir, "csv"))
    classifier["train"]["beta"] = 0.5
    with pytest.raises(ValidationError, match="train.beta is for task preference"):
        PipelineSpec.model_validate(classifier)
    with pytest.raises(ValidationError, match="train.packing is for task text-generation"):
        PipelineSpec.model_validate(preference_dict(tiny_chat_dir, packing=True))
    with pytest.raises(ValidationError, match="evaluate.promote is not available for task preference"):
        PipelineSpec.model_validate({**preference_dict(tiny_chat_dir), "evaluate": {"promote": {"metric":
                                                                                                 "reward_margin"}}})
    aligned = preference_dict(tiny_chat_dir)
    aligned["model"] = {"from_pipeline": "base"}
    mlm = {**pipeline_dict(tiny_chat_dir, files(tiny_chat_dir)), "task": "fill-mask",
           "evaluate": {}, "validation": {"expectations": []}}
    with pytest.raises(ValidationError, match="preference tuning starts from a text-generation \\(SFT\\) pipeline"):
        PipelinesFile.model_validate({"pipelines": {"aligned": aligned, "base": mlm}})
