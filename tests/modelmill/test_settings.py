"""Settings come from the environment as it is now: read once while their variables stay the same (a run asks
hundreds of times), read again as soon as one changes, a bad value refused every time."""

from __future__ import annotations

import pytest

from modelmill.runtime.errors import ConfigError
from modelmill.storage.settings import get_settings


def test_settings_are_read_again_when_one_of_their_variables_changes(monkeypatch):
    monkeypatch.setenv("MODELMILL_PRICE", "2")
    first = get_settings()
    assert first.price == 2.0 and get_settings() is first, "nothing changed: the same settings"
    monkeypatch.setenv("MODELMILL_PRICE", "3")
    assert get_settings().price == 3.0
    monkeypatch.setenv("MODELMILL_HF_TOKEN", "hf_from_the_alias")
    assert get_settings().hf_token.get_secret_value() == "hf_from_the_alias"
    monkeypatch.setenv("HF_TOKEN", "hf_plain")
    assert get_settings().hf_token.get_secret_value() == "hf_plain"
    monkeypatch.delenv("MODELMILL_PRICE")
    assert get_settings().price is None
    monkeypatch.setenv("modelmill_price", "4")  # pydantic-settings reads a name whatever its case
    assert get_settings().price == 4.0
    monkeypatch.delenv("modelmill_price")
    for _ in range(2):  # a bad value is never remembered as read
        monkeypatch.setenv("MODELMILL_PRICE", "abc")
        with pytest.raises(ConfigError, match="MODELMILL_PRICE"):
            get_settings()
