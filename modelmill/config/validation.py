"""The `validation` section: Great Expectations rules (inline and rule files) and built-in checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, model_validator

from modelmill.config.base import (
    MAX_ROWS,
    SPLITS,
    Section,
    _resolve,
)
from modelmill.config.library_index import rule_problem
from modelmill.config.loader import load_yaml_file
from modelmill.config.messages import describe_error
from modelmill.runtime.errors import ConfigError

RULE_OPTIONS = ("severity", "meta", "splits")


class ExpectationRule(Section):
    """One Great Expectations rule: its snake_case name, its keyword arguments, and how it counts.

    Written in YAML as a mapping with one `expect_*` key and optional `severity`, `meta` and `splits`:
    ``- expect_column_values_to_not_be_null: {column: text}`` (plus ``severity: warning`` to only report it).
    """

    expectation: str = Field(description="The Great Expectations rule, written as the rule's `expect_*` key.")
    kwargs: dict[str, Any] = Field(
        default_factory=dict, description="The rule's arguments, written as the mapping under its key."
    )
    severity: Literal["critical", "warning"] = Field(
        "critical", description="critical: a failure stops the flow; warning: reported, the flow goes on."
    )
    meta: dict[str, Any] = Field(default_factory=dict, description="Free-form notes: owner, why, ticket.")
    splits: list[Literal["train", "validation", "test"]] | None = Field(
        None, description="Only these splits (default: validation.splits)."
    )

    @model_validator(mode="before")
    @classmethod
    def _from_one_key_mapping(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"expectation": value}
        if isinstance(value, dict) and "expectation" not in value:
            names = [key for key in value if key not in RULE_OPTIONS]
            if len(names) == 1:
                kwargs = value[names[0]]
                options = {key: value[key] for key in RULE_OPTIONS if key in value}
                return {"expectation": names[0], "kwargs": kwargs if kwargs is not None else {}, **options}
        return value

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        """The spellings the loader accepts (the model itself only describes the last)."""
        name = {"type": "string", "pattern": "^expect_[a-z0-9_]+$"}
        options = {
            "severity": {"enum": ["critical", "warning"]},
            "meta": {"type": "object"},
            "splits": {"type": "array", "items": {"enum": list(SPLITS)}},
        }
        return {
            "title": "ExpectationRule",
            "description": "A Great Expectations rule: `expect_x` alone, `{expect_x: {kwargs}, severity, meta, "
            "splits}`, or `{expectation: expect_x, kwargs: {...}, severity, meta, splits}`.",
            "anyOf": [
                name,
                {
                    "type": "object", "minProperties": 1, "properties": options,
                    "patternProperties": {"^expect_[a-z0-9_]+$": {"type": ["object", "null"]}},
                    "additionalProperties": False,
                },
                {
                    "type": "object", "additionalProperties": False, "required": ["expectation"],
                    "properties": {"expectation": name, "kwargs": {"type": "object"}, **options},
                },
            ],
        }

    @model_validator(mode="after")
    def _is_a_gx_expectation(self) -> ExpectationRule:
        """Checked against the index of GX's expectations (no import of GX: seconds); the real object is built
        before any work (`modelmill check`, the start of a run)."""
        problem = rule_problem(self.expectation, self.kwargs)
        if problem:
            raise ValueError(problem)
        return self

    def describe(self) -> str:
        """`expect_x(column=text, min_value=3)`: the rule and its arguments, as a data team wrote them."""
        arguments = ", ".join(f"{key}={value!r}" if isinstance(value, str) and key != "column" else f"{key}={value}"
                              for key, value in self.kwargs.items())
        return f"{self.expectation}({arguments})"


class RuleFile(Section):
    """A rule file owned by a data team (e.g. `expectations/reviews.yaml`): a suite of rules."""

    suite: str | None = Field(None, description="The suite's name (default: the file name).")
    description: str = ""
    rules: list[ExpectationRule] = Field(min_length=1)


class RuleSuite(Section):
    """A rule file a pipeline uses, loaded with the pipelines file (its rules are part of the spec)."""

    file: Path = Field(description="The rule file (YAML), relative to this file.")
    name: str = Field(description="The suite's name, shown in the report.")
    rules: list[ExpectationRule] = Field(description="The rules the file holds.")

    @model_validator(mode="before")
    @classmethod
    def _load_the_file(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, (str, Path)):
            return value
        path = _resolve(Path(value), info)
        suite = load_rule_file(path)
        return {"file": path, "name": suite.suite or path.stem, "rules": suite.rules}

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        return {"type": "string", "title": "RuleSuite", "description": "Path of a rule file, relative to this file."}


class Check(Section):
    """A built-in data check: on by default, with the severity its failures carry."""

    enabled: bool = Field(True, description="Run this check.")
    severity: Literal["critical", "warning"] = Field(
        "warning", description="critical: a failure stops the flow; warning: reported, the flow goes on."
    )


class TextMatchCheck(Check):
    normalized: bool = Field(True, description="Also fold case, whitespace and punctuation before comparing.")


class OverlapCheck(TextMatchCheck):
    """Train texts found again in validation or test, and validation texts in test: above `max_share` of the split
    it carries `severity` (critical: the figures would be inflated by what the model memorised), below it a
    warning. `action: drop` removes those rows from validation and test when the data is loaded instead (counted
    in the validation report and the model card): what real data with retweets or republished articles needs."""

    severity: Literal["critical", "warning"] = Field(
        "critical", description="critical: a failure stops the flow; warning: reported, the flow goes on."
    )
    max_share: float = Field(0.01, ge=0, le=1, description="Share of a split that may repeat texts of an earlier one.")
    action: Literal["stop", "drop"] = Field(
        "stop", description="stop: the check gates as above; drop: the rows of validation and test that repeat a "
        "text of an earlier split are dropped when the data is loaded, and counted.")

    @property
    def dropping(self) -> Literal["exact", "normalized"] | None:
        """How the load stage compares the texts it drops, or None when it drops nothing."""
        if not self.enabled or self.action != "drop":
            return None
        return "normalized" if self.normalized else "exact"


class BalanceCheck(Check):
    min_share: float = Field(0.10, ge=0, lt=1, description="Smallest share of a split any class may have (a rarer "
                             "class warns: a model can ignore it and still score well).")
    min_examples: int = Field(5, ge=0, le=MAX_ROWS, description="Fewest examples of a class in any split.")


class ShiftCheck(Check):
    max_kl: float = Field(
        0.1, gt=0, le=100, description="Largest KL divergence of test's label distribution from train's."
    )


class BuiltinChecks(Section):
    """Checks every pipeline gets, reported like GX rules; switch one off with `enabled: false`."""

    overlap: OverlapCheck = Field(default_factory=OverlapCheck, description="Train texts in validation/test.")
    duplicates: TextMatchCheck = Field(default_factory=TextMatchCheck, description="A text repeated in a split "
                                       "(with the same label; with another label it is a conflict, said as such).")
    empty_text: Check = Field(default_factory=lambda: Check(severity="critical"))
    class_balance: BalanceCheck = Field(default_factory=BalanceCheck)
    label_sets: Check = Field(default_factory=lambda: Check(severity="critical"), description="Same labels everywhere.")
    label_shift: ShiftCheck = Field(default_factory=ShiftCheck, description="Test labels distributed like train's.")


class ValidationSpec(Section):
    """Data rules, checked on every split before anything is trained."""

    expectations: list[ExpectationRule] = Field(
        default_factory=list, description="Great Expectations rules written inline."
    )
    suites: list[RuleSuite] = Field(
        default_factory=list, description="Rule files (paths relative to this file), beside the inline rules."
    )
    splits: list[Literal["train", "validation", "test"]] = Field(
        default_factory=lambda: list(SPLITS), description="The splits the rules check by default."
    )
    sample_rows: int = Field(5, ge=0, le=1_000, description="Offending rows shown per failed rule.")
    checks: BuiltinChecks = Field(default_factory=BuiltinChecks, description="The built-in text checks.")

    def all_rules(self) -> list[tuple[str, ExpectationRule]]:
        """(where it was written, rule) for the inline rules and every suite's."""
        inline = [(f"validation.expectations[{i}]", rule) for i, rule in enumerate(self.expectations)]
        return inline + [
            (f"{suite.file.name}: rules[{i}]", rule) for suite in self.suites for i, rule in enumerate(suite.rules)
        ]


def load_rule_file(path: Path) -> RuleFile:
    """A data team's rule file; ValueError (it surfaces at the suite's YAML path) names the file and each rule's
    path inside it."""
    if not path.is_file():
        raise ValueError(f"rule file {path} not found")
    try:
        raw = load_yaml_file(path)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    try:
        return RuleFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(describe_error(err).strip() for err in exc.errors(include_url=False))
        raise ValueError(f"{path}: {problems}") from None
