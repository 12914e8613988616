"""Every command the README and the documentation site show is run by a test: each one is listed here with the test
that runs it (which must exist), or with the reason it is run by hand. A command added to a page without either
fails this test."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
README = "\n".join(page.read_text(encoding="utf-8") for page in PAGES)

# command (as the README writes it, up to its first option or placeholder) -> the test that runs it
RUN_BY = {
    "make example": "tests/flows/test_shipped_example.py::test_make_example_then_its_rerun",
    "make test": ".ci/run (CI runs the suite with it)",
    # the README's figures for its experiment are a measurement; --set on the command line is run here:
    "modelmill run sentiment --set": "tests/flows/test_promotion.py::"
    "test_the_cli_exits_3_and_the_team_hears_when_a_retrain_is_not_promoted",
    "modelmill run": "tests/server/test_cli_runs.py::test_ctrl_c_exits_promptly_stops_the_server_and_a_later_run_resumes",
    "modelmill validate": "tests/modelmill/test_cli.py::test_validate_checks_the_data_and_exits_1_on_a_critical_rule",
    "modelmill check": "tests/modelmill/test_cli.py::test_check_accepts_the_shipped_file",
    "modelmill list": "tests/modelmill/test_cli.py::test_list_shows_model_target_and_schedule",
    "modelmill schema": "tests/modelmill/test_cli.py::test_schema_is_json_schema_of_the_file",
    "modelmill serve": "tests/server/test_real_server.py::test_serve_registers_the_pipelines_and_runs_what_the_file_says_at_run_time",
    "modelmill deploy": "tests/server/test_real_server.py::test_deploy_schedules_lists_and_a_worker_runs_the_file_as_it_is_now",
    "modelmill releases": "tests/modelmill/test_releases_cli.py::test_releases_lists_tags_with_date_commit_and_metrics",
    "modelmill rollback": "tests/modelmill/test_releases_cli.py::test_rollback_republishes_a_release_as_a_new_head_after_confirming",
    "modelmill gc": "tests/flows/test_gc.py::test_gc_keeps_the_last_runs_the_releases_and_running_runs_and_removes_the_rest",
    "prefect server start": "tests/server/conftest.py::prefect_server",
    "prefect worker start": "tests/server/test_real_server.py::test_deploy_schedules_lists_and_a_worker_runs_the_file_as_it_is_now",
    "prefect deployment run": "tests/server/test_real_server.py::test_deploy_schedules_lists_and_a_worker_runs_the_file_as_it_is_now",
}
BY_HAND = {
    ". .venv/bin/activate": "shell set-up",
    "export PREFECT_API_URL": "shell set-up (the server tests set it in each process's environment)",
    "export MODELMILL_HOME": "shell set-up (tests/server/test_remote_home.py sets them in each process's environment)",
    "export MODELMILL_LOCKS": "shell set-up (tests/storage/test_remote_pieces.py uses a real Redis)",
    "prefect work-pool create": "for it the Prefect server fetches its worker registry from GitHub (its bundled copy "
    "offline), which the loopback-only suite refuses: tests/server/test_gpu_pools.py::gpu_pool creates the same pool "
    "with the client API",
    "docker build": "the images are not built here: this machine reaches no registry of base images",
    "make bench": "a benchmark on ../shared/data, outside the repository: its figures are in the README's table",
    "make bench-padding": "a benchmark on ../shared/data: its figures are in the README's table",
    "make bench-examples": "runs every example pipeline (~15 min): its figures are in the task-type pages",
    "make bench-sft": "a benchmark that trains SmolLM2-135M twice (~10 min): its figures are in docs/benchmarks.md",
    "modelmill run sst2": "a benchmark on ../shared/data",
    "modelmill run sms_spam": "a benchmark on ../shared/data",
    "modelmill validate sms_spam": "a benchmark on ../shared/data",
}


def readme_commands() -> list[str]:
    """Commands in the README's bash blocks, and in the backticks of its command and benchmark tables."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.DOTALL):
        commands += [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]
    commands += re.findall(r"^\| `((?:modelmill|make|prefect) [^`]*)` \|", README, re.MULTILINE)
    commands += re.findall(r"\| `((?:modelmill|make) [^`]*)` \| [^|]*\|$", README, re.MULTILINE)
    return list(dict.fromkeys(commands))


def entry(command: str) -> str:
    """The longest listed command this one starts with."""
    known = [name for name in (*RUN_BY, *BY_HAND) if re.match(re.escape(name) + r"(\s|=|$)", command)]
    assert known, f"README command {command!r} is run by no test: add the test to RUN_BY (or a reason to BY_HAND)"
    return max(known, key=len)


def test_every_readme_command_is_run_by_a_test_that_exists():
    commands = readme_commands()
    assert len(commands) >= 20, commands
    for command in commands:
        name = entry(command)
        where = RUN_BY.get(name)
        if where is None or "::" not in where:
            continue
        path, test = where.split("::")
        source = (ROOT / path).read_text(encoding="utf-8")
        assert re.search(rf"^def {test}\(", source, re.MULTILINE), f"{where} (for {command!r}) does not exist"
