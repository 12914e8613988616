"""Where a notification sends people: the run's page on the configured server, never a link to a temporary
server that stopped with the run."""

from __future__ import annotations

from prefect.runtime import flow_run
from prefect.settings import PREFECT_API_URL, temporary_settings

from modelmill.observe import notify

TEMPORARY = "http://127.0.0.1:5555/api"


def test_a_run_on_a_temporary_server_says_where_its_records_stay(monkeypatch):
    monkeypatch.setenv("MODELMILL_TEMPORARY_API_URL", TEMPORARY)
    monkeypatch.setattr(flow_run, "ui_url", "http://127.0.0.1:5555/runs/flow-run/1", raising=False)
    with temporary_settings({PREFECT_API_URL: TEMPORARY}):
        link = notify.run_link()
    assert "temporary Prefect server that stopped with the run" in link and "5555" not in link


def test_a_run_on_the_configured_server_links_to_its_page(monkeypatch):
    monkeypatch.delenv("MODELMILL_TEMPORARY_API_URL", raising=False)
    monkeypatch.setattr(flow_run, "ui_url", "http://127.0.0.1:4200/runs/flow-run/1", raising=False)
    assert notify.run_link() == "Run: http://127.0.0.1:4200/runs/flow-run/1"
