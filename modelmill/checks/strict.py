"""The strict half of the spec check: every data rule built as the Great Expectations object it names, so what
GX's own validators refuse (beyond the names, arguments and kinds of value the index checks at load) is found
before any work, at the rule's YAML path.

Importing GX takes seconds, so `modelmill check` and `modelmill run` build the rules in a child process
(`python -m modelmill.checks.strict <pipelines file> <pipeline>...`) while they check the data and the model.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from modelmill.config import PipelineSpec, load_pipelines


def rule_problems(name: str, spec: PipelineSpec) -> list[str]:
    """One line per rule of pipeline `name` that GX refuses to build."""
    from modelmill.checks.expectations import build_expectation

    problems = []
    for where, rule in spec.validation.all_rules():
        try:
            build_expectation(rule.expectation, rule.kwargs)
        except ValueError as exc:
            problems.append(f"pipelines.{name}.{where}: {exc}")
    return problems


def start(path: Path | str, names: list[str]) -> subprocess.Popen[str]:
    """Build the rules of `names` (pipelines of file `path`) in a child process; `finish` waits for it."""
    return subprocess.Popen(
        [sys.executable, "-m", "modelmill.checks.strict", str(path), *names],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def finish(child: subprocess.Popen[str], pipelines: dict[str, PipelineSpec]) -> dict[str, list[str]]:
    """The child's problems per pipeline; if the child could not answer, the rules are built here instead."""
    out, _ = child.communicate()
    try:
        found = json.loads(out)
        if child.returncode == 0 and set(found) == set(pipelines):
            return found
    except ValueError:
        pass
    return {name: rule_problems(name, spec) for name, spec in pipelines.items()}


def main(argv: list[str]) -> int:
    path, *names = argv
    pipelines = load_pipelines(path).pipelines
    print(json.dumps({name: rule_problems(name, pipelines[name]) for name in names}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
