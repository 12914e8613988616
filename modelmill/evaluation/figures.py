"""PNG figures saved with a run and embedded in its Prefect artifact and model card."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmill.storage.home import local_copy

if TYPE_CHECKING:
    from modelmill.manifests import ModelManifest

CONFUSION_MATRIX = "confusion_matrix.png"
TRAINING_CURVE = "training_curve.png"
TITLES = {"Confusion matrix": CONFUSION_MATRIX, "Validation curve": TRAINING_CURVE}


def saved_figures(folder: Path | None) -> dict[str, Path]:
    """Title -> file of each figure saved in `folder` (a run without validation history has no curve)."""
    if folder is None:
        return {}
    folder = local_copy(folder)
    return {title: folder / name for title, name in TITLES.items() if (folder / name).is_file()}


def pyplot():
    """matplotlib.pyplot on the Agg backend: files only, no display needed on servers and workers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion_matrix_figure(confusion: list[list[int]], labels: list[str], title: str) -> Any:
    """A matplotlib figure: counts in the cells, true labels down, predicted labels across."""
    plt = pyplot()
    size = max(3.6, 0.6 * len(labels) + 2.4)
    figure, axes = plt.subplots(figsize=(size, size * 0.85), dpi=100)
    image = axes.imshow(confusion, cmap="Blues")
    peak = max((max(row) for row in confusion), default=0)
    for i, row in enumerate(confusion):
        for j, count in enumerate(row):
            axes.text(j, i, str(count), ha="center", va="center",
                      color="white" if count > peak / 2 else "black", fontsize=11)
    axes.set_xticks(range(len(labels)), labels=labels, rotation=30 if len(labels) > 3 else 0)
    axes.set_yticks(range(len(labels)), labels=labels)
    axes.set_xlabel("Predicted label")
    axes.set_ylabel("True label")
    axes.set_title(title)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    return figure


def confusion_matrix_png(confusion: list[list[int]], labels: list[str], path: Path, title: str) -> Path:
    """The confusion matrix figure saved as a PNG at `path`."""
    figure = confusion_matrix_figure(confusion, labels, title)
    figure.savefig(path, bbox_inches="tight")
    pyplot().close(figure)
    return path


def training_curve_png(history: list[dict[str, float]], path: Path, best_metric: str) -> Path | None:
    """Validation loss (and train loss) and the validation metric per epoch; None without validation history."""
    evaluations = [entry for entry in history if "eval_loss" in entry]
    if not evaluations:
        return None
    plt = pyplot()
    figure, (losses, metric) = plt.subplots(1, 2, figsize=(8, 3.2), dpi=100)
    training = [entry for entry in history if "loss" in entry]
    if training:
        losses.plot([e["epoch"] for e in training], [e["loss"] for e in training], label="train loss", alpha=0.6)
    losses.plot([e["epoch"] for e in evaluations], [e["eval_loss"] for e in evaluations], "o-", label="validation loss")
    losses.set_xlabel("Epoch")
    losses.set_ylabel("Loss")
    losses.legend()
    name = "eval_accuracy" if best_metric == "loss" else f"eval_{best_metric}"
    points = [e for e in evaluations if name in e]
    metric.plot([e["epoch"] for e in points], [e[name] for e in points], "o-", color="tab:green")
    metric.set_xlabel("Epoch")
    metric.set_ylabel(f"Validation {name.removeprefix('eval_')}")
    metric.set_title(f"Best checkpoint chosen on validation {best_metric}", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, bbox_inches="tight")
    plt.close(figure)
    return path


def data_uri(path: Path) -> str:
    """The PNG inline, for a Prefect markdown artifact (which stores text only)."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def publish_training_curve(model: ModelManifest, output: Path) -> None:
    """The validation curve of `model` alone (task types without a confusion matrix), published in `output`."""
    from modelmill.storage.artifacts import atomic_dir

    with atomic_dir(output) as scratch:
        training_curve_png(model.history, scratch / TRAINING_CURVE,
                           model.training_arguments.get("metric_for_best_model", "loss"))
