"""Per-run overrides from the CLI (`--set`) and the run form, applied and validated like the YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelmill.runtime.errors import ConfigError
from modelmill.observe.run_names import is_generated_name, run_name
from modelmill.config.overrides import RunOverrides, parse_cli_overrides
from modelmill.config.file import load_pipeline

PIPELINES = Path(__file__).parents[2] / "pipelines.yaml"


def test_set_takes_dotted_train_keys_and_scientific_notation():
    overrides = parse_cli_overrides(["train.learning_rate=3e-5", "train.epochs=1"], dry_run=True, note="try")
    assert overrides.learning_rate == pytest.approx(3e-5) and overrides.epochs == 1
    assert overrides.dry_run and overrides.note == "try" and not overrides.force_retrain
    spec = overrides.apply(load_pipeline("sentiment", PIPELINES))
    assert spec.train.learning_rate == pytest.approx(3e-5) and spec.train.batch_size == 16, "others untouched"


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("train.learnig_rate=1", "KEY one of train.epochs"),
        ("train.learning_rate", "expected KEY=VALUE"),
        ("train.batch_size=0", "--set train.batch_size: Input should be greater than or equal to 1"),
        ("train.learning_rate=fast", "--set train.learning_rate: Input should be a valid number"),
    ],
)
def test_a_bad_set_names_the_key_and_what_is_wrong(assignment, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        parse_cli_overrides([assignment])


def test_no_override_keeps_the_spec_and_is_not_an_experiment():
    spec = load_pipeline("sentiment", PIPELINES)
    assert RunOverrides().apply(spec) is spec and not RunOverrides(dry_run=True).is_experiment
    assert RunOverrides(seed=3).is_experiment and RunOverrides(force_retrain=True).is_experiment


def test_prefects_random_run_names_are_replaced_and_typed_ones_kept():
    from prefect.utilities.names import generate_slug

    assert all(is_generated_name(generate_slug(2)) for _ in range(200))
    assert not is_generated_name("rows check by alice") and not is_generated_name("lr-sweep-3")
    # the classic UI's run form pre-fills names of its own (seen in the field: rho-argana, delta2-wezn)
    assert is_generated_name("rho-argana") and is_generated_name("delta2-wezn")
    assert is_generated_name("alpha17-andromedae-band"), "a number for RANDOM, and the optional third word"
    assert not is_generated_name("nightly-retrain") and not is_generated_name("rho-retrain")
    assert run_name("sentiment", "3fa9c2d81b00").startswith("sentiment-") and run_name("s", "3fa9c2").endswith("-3fa9c2")


def test_the_name_the_ui_form_prefills_is_prefects_too_and_names_never_repeat():
    from datetime import datetime, timezone

    from modelmill.observe.run_names import unique_name

    assert is_generated_name("Sleek-Jaguar") and is_generated_name("Ergonomic-Bison")
    assert not is_generated_name("Sleek-Jaguars-run") and not is_generated_name("Lr-Sweep")
    name = run_name("tiny", "3fa9c2d81b00", datetime(2026, 12, 2, 3, 0, 7, tzinfo=timezone.utc))
    assert name == "tiny-20261202-030007-3fa9c2", "to the second"
    assert unique_name(name, "0b1c2d3e-4f5a", set()) == name
    assert unique_name(name, "0b1c2d3e-4f5a", {name}) == f"{name}-0b1c2d"


def test_a_bad_set_on_the_command_line_exits_2_like_any_bad_usage(capsys):
    from modelmill.cli import main

    assert main(["run", "sentiment", "-f", str(PIPELINES), "--set", "train.learnig_rate=1"]) == 2
    assert "modelmill: UsageError: --set 'train.learnig_rate=1': expected KEY=VALUE" in capsys.readouterr().err
