"""Every run of a pipeline at a glance, from the run records under the home: when, from which data and spec,
the main metric and its delta against the champion it met, whether it was released (and as which version), not
promoted (why) or failed (why), roll-backs, and what it cost; as a table (`modelmill releases`, the
`<pipeline>-releases` artifact) and a PNG of the main metric over the runs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from modelmill.storage.run_records import RunRecord, read_records, records_dir

ROLLED_BACK = "rolled back"
FIGURE = "history.png"


@dataclass(frozen=True)
class HistoryRow:
    date: str
    run: str
    status: str
    version: str
    data: str
    spec: str
    metric: str
    value: float | None
    delta: float | None
    cost: float | None
    reason: str


def row_of(record: RunRecord) -> HistoryRow:
    figures = record.figures
    started = record.started
    date = f"{started[:4]}-{started[4:6]}-{started[6:8]} {started[9:11]}:{started[11:13]}"
    return HistoryRow(
        date=date, run=figures.get("run_name") or record.run_id[:8], status=record.status,
        version=(record.release.tag or "") if record.release else "", data=figures.get("data", ""),
        spec=record.spec_hash, metric=figures.get("main_metric", ""), value=figures.get("main_value"),
        delta=figures.get("champion_delta"), cost=figures.get("cost"), reason=figures.get("reason", ""),
    )


def history(pipeline: str, home: Path | None = None) -> list[HistoryRow]:
    """The pipeline's runs and roll-backs, newest first."""
    return [row_of(record) for record in read_records(home, pipeline)]


def _number(value: float | None, signed: bool = False) -> str:
    return "" if value is None else (f"{value:+.4f}" if signed else f"{value:.4f}")


def history_table(rows: list[HistoryRow]) -> str:
    """A Markdown table, newest first (it reads as plain text in a terminal too)."""
    lines = ["| date (UTC) | run | outcome | version | data | spec | main metric | vs champion | cost | why |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        metric = f"{row.metric} {_number(row.value)}" if row.metric and row.value is not None else ""
        cost = "" if row.cost is None else f"{row.cost:.4f}"
        why = row.reason.replace("|", "/").replace("\n", " ")[:160]
        lines.append(f"| {row.date} | {row.run} | {row.status} | {row.version} | {row.data[:12]} | {row.spec[:12]} | "
                     f"{metric} | {_number(row.delta, signed=True)} | {cost} | {why} |")
    return "\n".join(lines)


def history_png(rows: list[HistoryRow], path: Path) -> Path | None:
    """The main metric over the runs (oldest left): released versions filled and labelled, runs not promoted
    hollow, failed runs as crosses on the axis; None when no run has a metric."""
    released_value = {row.version: row.value for row in reversed(rows) if row.version and row.value is not None}
    rows = [row if row.status != ROLLED_BACK else replace(row, value=released_value.get(row.version))
            for row in rows]  # a roll-back serves the metric of the release it brings back
    scored = [row for row in reversed(rows) if row.value is not None]
    if not scored:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ordered = list(reversed(rows))
    position = {id(row): number for number, row in enumerate(ordered)}
    figure, axes = plt.subplots(figsize=(7, 3.2), dpi=100)
    axes.plot([position[id(row)] for row in scored], [row.value for row in scored], color="0.75", zorder=1)
    for row in scored:
        released = bool(row.version) and row.status != "not promoted"
        axes.scatter(position[id(row)], row.value, s=40, zorder=2, facecolors="tab:blue" if released else "none",
                     edgecolors="tab:blue")
        if row.version:
            axes.annotate(row.version + (" (rollback)" if row.status == ROLLED_BACK else ""),
                          (position[id(row)], row.value), textcoords="offset points", xytext=(0, 6), ha="center",
                          fontsize=8)
    low = min(row.value for row in scored)
    failed = [position[id(row)] for row in ordered if row.status == "failed"]
    if failed:
        axes.scatter(failed, [low] * len(failed), marker="x", color="tab:red", zorder=2, label="failed")
        axes.legend(loc="upper left", fontsize=8)
    axes.margins(x=0.05, y=0.2)
    axes.set_xticks(range(len(ordered)), [row.date[5:10] for row in ordered], fontsize=7, rotation=45)
    axes.set_ylabel(scored[-1].metric)
    axes.set_title("main metric per run: filled = released, hollow = not promoted", fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.tmp.png")
    figure.savefig(scratch)
    plt.close(figure)
    scratch.replace(path)
    return path


def earlier_releases(rows: list[HistoryRow], spec: str, data: str) -> list[HistoryRow]:
    """The versions released before a model of `spec` on `data` (one row each, the run that released it): what its
    card shows. Releases of that very model (a re-run) are left out, so a re-run makes the same card."""
    first: dict[str, HistoryRow] = {}
    for row in reversed(rows):
        if row.version and row.status in ("completed", ROLLED_BACK) and (row.spec, row.data) != (spec, data):
            first.setdefault(row.version if row.status != ROLLED_BACK else f"{row.version}@{row.date}", row)
    return list(reversed(first.values()))


def figure_path(pipeline: str, home: Path | None = None) -> Path:
    return records_dir(home) / pipeline / FIGURE
