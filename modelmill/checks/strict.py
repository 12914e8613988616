"""The strict half of the spec check: every data rule built as the Great Expectations object it names, so what
GX's own validators refuse (beyond the names, arguments and kinds of value the index checks at load) is found
before any work, at the rule's YAML path.

Importing GX takes seconds, so `modelmill check` and `modelmill run` build the rules in a child process
(`python -m modelmill.checks.strict <pipelines file> <pipeline>...`) while they check the data and the model; a
process that has GX loaded already (a served or repeated run), or has nothing left to build, builds them itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from modelmill.config import PipelineSpec, load_pipelines

_BUILT: set[str] = set()  # the rule sets built without a problem in this process (by `check` or `run`'s checks)


def rules_key(spec: PipelineSpec) -> str:
    return json.dumps([(where, rule.expectation, rule.kwargs) for where, rule in spec.validation.all_rules()],
                      sort_keys=True, default=str)


def rule_problems(name: str, spec: PipelineSpec) -> list[str]:
    """One line per rule of pipeline `name` that GX refuses to build; a rule set this process saw built is not
    built again (GX takes seconds to import)."""
    if rules_key(spec) in _BUILT:
        return []
    from modelmill.checks.expectations import build_expectation

    problems = []
    for where, rule in spec.validation.all_rules():
        try:
            build_expectation(rule.expectation, rule.kwargs)
        except ValueError as exc:
            problems.append(f"pipelines.{name}.{where}: {exc}")
    if not problems:
        _BUILT.add(rules_key(spec))
    return problems


def start(path: Path | str, pipelines: dict[str, PipelineSpec]) -> subprocess.Popen[str] | None:
    """Build the rules of `pipelines` (of file `path`) in a child process, which `finish` waits for; None when a
    child would not save time: no rule left to build, or GX already imported here."""
    pending = [name for name, spec in pipelines.items()
               if spec.validation.all_rules() and rules_key(spec) not in _BUILT]
    if not pending or "great_expectations" in sys.modules:
        return None
    return subprocess.Popen(
        [sys.executable, "-m", "modelmill.checks.strict", str(path), *pipelines],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def finish(child: subprocess.Popen[str] | None, pipelines: dict[str, PipelineSpec]) -> dict[str, list[str]]:
    """The child's problems per pipeline; without a child, or if it could not answer, the rules are built here."""
    if child is None:
        return {name: rule_problems(name, spec) for name, spec in pipelines.items()}
    out, _ = child.communicate()
    try:
        found = json.loads(out)
    except ValueError:
        found = None
    if child.returncode != 0 or not isinstance(found, dict) or set(found) != set(pipelines):
        return {name: rule_problems(name, spec) for name, spec in pipelines.items()}
    _BUILT.update(rules_key(spec) for name, spec in pipelines.items() if not found[name])
    return found


def main(argv: list[str]) -> int:
    path, *names = argv
    pipelines = load_pipelines(path).pipelines
    print(json.dumps({name: rule_problems(name, pipelines[name]) for name in names}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
