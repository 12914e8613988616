"""How a search is shown: a table of every trial (run summary, Prefect table artifact, model card) and a PNG of the
objective against trial number and against the field that mattered most."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from modelmill.manifests import SearchReport


def cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e-2 and value else f"{value:.4g}"
    return str(value)


def search_rows(report: SearchReport, released: bool = False) -> list[dict[str, Any]]:
    """One row per trial: its values, objective, state and seconds (the best marked). `released`: what the trials
    made, not how this run got them (a model card's table: a re-run whose trials are cache hits has the same card,
    so it pushes nothing new), without the seconds and with cached trials shown as completed."""
    names = sorted({name for trial in report.trials for name in trial.values})
    return [
        {"trial": trial.number, **{name: trial.values.get(name) for name in names},
         report.metric: None if trial.objective is None else round(trial.objective, 4),
         "state": "completed" if released and trial.state == "cached" else trial.state,
         "evaluations": trial.evaluations, **({} if released else {"seconds": trial.seconds}),
         "best": "yes" if trial.number == report.best else ""}
        for trial in report.trials
    ]


def search_table(report: SearchReport, released: bool = False) -> str:
    """Markdown: the search's objective and best trial, then every trial (`released`: as a model card shows it)."""
    rows = search_rows(report, released)
    header = list(rows[0])
    lines = [f"Hyperparameter search ({report.direction} validation {report.metric}): trial {report.best} is best; "
             "its model went on to evaluation.", "", "| " + " | ".join(header) + " |",
             "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join("-" if row[name] is None else cell(row[name]) for name in header) + " |"
              for row in rows]
    return "\n".join(lines)


def important_field(study: Any, names: list[str]) -> str | None:
    """The searched field that mattered most (Optuna's parameter importances), or the only one."""
    if len(names) == 1:
        return names[0]
    try:
        import optuna

        importances = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError, ZeroDivisionError):  # too few completed trials, or no variation
        return None
    return next(iter(importances), None)


def search_png(report: SearchReport, path: Path) -> Path | None:
    """The objective of each completed trial against its number and against the most important field."""
    from modelmill.evaluation.figures import pyplot

    done = [trial for trial in report.trials if trial.objective is not None]
    if not done:
        return None
    plt = pyplot()
    panels = 2 if report.important else 1
    figure, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.6), squeeze=False)
    numbers, values = [t.number for t in done], [t.objective for t in done]
    axes[0][0].plot(numbers, values, "o-", color="tab:blue")
    best = report.best_trial
    axes[0][0].plot([best.number], [best.objective], "*", color="tab:red", markersize=14, label="best")
    axes[0][0].set(xlabel="trial", ylabel=f"validation {report.metric}", title="objective by trial")
    axes[0][0].legend()
    if report.important:
        xs = [t.values.get(report.important) for t in done]
        numeric = all(isinstance(x, int | float) for x in xs)
        axes[0][1].scatter(xs if numeric else [str(x) for x in xs], values, color="tab:blue")
        if numeric and min(xs) > 0 and max(xs) / min(xs) >= 10 and not math.isclose(min(xs), max(xs)):
            axes[0][1].set_xscale("log")
        axes[0][1].set(xlabel=report.important, ylabel=f"validation {report.metric}",
                       title=f"objective by {report.important}")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def publish_search(pipeline: str, report: SearchReport) -> None:
    """A Prefect table artifact of every trial, versioned under `<pipeline>-search`."""
    from prefect.artifacts import create_table_artifact

    from modelmill.storage.artifacts import prefect_artifact_key

    create_table_artifact(key=prefect_artifact_key(pipeline, "search"), table=search_rows(report),
                          description=f"Hyperparameter search: trial {report.best} is best by validation "
                                      f"{report.metric}")
