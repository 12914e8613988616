"""Champion vs challenger: the decision, and the side-by-side table people read it from."""

from __future__ import annotations

from pydantic import BaseModel, Field

from modelmill.config import EvaluateSpec, PromoteSpec
from modelmill.hub.head import HubHead
from modelmill.metrics import LOWER_IS_BETTER


class Comparison(BaseModel):
    """One rule: the champion's and the challenger's value, the difference, and whether the rule holds."""

    name: str
    champion: float
    challenger: float
    rule: str
    passed: bool
    gated: bool = Field(True, description="False: a figure shown beside the rules (an extra set without a guard).")

    @property
    def delta(self) -> float:
        return self.challenger - self.champion


class Promotion(BaseModel):
    """Whether the new model replaces the published one, and why."""

    promoted: bool
    reason: str
    champion_revision: str | None = None
    head: HubHead | None = Field(
        None, description="main as it was when decided: a release commits on it, or decides again."
    )
    rows: list[Comparison] = Field(default_factory=list)


def gain(metric: str, challenger: float, champion: float) -> float:
    """How much better the challenger is on `metric` (negative: worse), whichever way the metric improves."""
    return champion - challenger if metric in LOWER_IS_BETTER else challenger - champion


def guarded(name: str, metric: str, challenger: float, champion: float, tolerance: float) -> Comparison:
    worse = "rises" if metric in LOWER_IS_BETTER else "drops"
    return Comparison(name=name, champion=champion, challenger=challenger, rule=f"{worse} by <= {tolerance:g}",
                      passed=gain(metric, challenger, champion) >= -tolerance - 1e-12)


def set_rows(spec: EvaluateSpec, challenger: dict[str, dict[str, float]], champion: dict[str, dict[str, float]]
             ) -> list[Comparison]:
    """Per extra set: the deciding metric's delta (a regression on old data shows beside the test delta), and the
    set's own guard. Each dict maps a set's name to its averaged and `metric[class]` values."""
    assert spec.promote is not None
    rows = []
    for name, extra in sorted(spec.sets.items()):
        metric, guard = spec.promote.metric, extra.guard
        if guard is None or guard.name != metric:
            rows.append(Comparison(name=f"{metric} (set {name})", champion=champion[name][metric],
                                   challenger=challenger[name][metric], rule="shown (no guard)", passed=True, gated=False))
        if guard is not None:
            rows.append(guarded(f"{guard.name} (set {name})", guard.metric, challenger[name][guard.name],
                                champion[name][guard.name], guard.tolerance))
    return rows


def decide(
    spec: PromoteSpec,
    challenger: dict[str, float],
    champion: dict[str, float],
    champion_revision: str,
    sets: list[Comparison] | None = None,
) -> Promotion:
    """Promote when `spec.metric` improves by `min_improvement` and no guard (of the test split, or of an extra
    set in `sets`) worsens past its tolerance (a loss or perplexity improves by falling).

    Both dicts hold the averaged metrics and, for class guards, `metric[class]` entries.
    """
    improved = gain(spec.metric, challenger[spec.metric], champion[spec.metric])
    rows = [
        Comparison(
            name=spec.metric, champion=champion[spec.metric], challenger=challenger[spec.metric],
            rule=f"improves by >= {spec.min_improvement:g}", passed=improved >= spec.min_improvement - 1e-12,
        )
    ]
    rows += [guarded(guard.name, guard.metric, challenger[guard.name], champion[guard.name], guard.tolerance)
             for guard in spec.guards]
    rows += sets or []
    failed = [row.name for row in rows if not row.passed]
    published = f"the published model ({champion_revision[:8]})"
    if failed:
        reason = f"not better than {published}: {', '.join(failed)}"
    elif improved < -1e-12:  # a step back that a negative min_improvement allows
        reason = (f"worse than {published} by {-improved:.4f} on {spec.metric}, allowed by "
                  f"evaluate.promote.min_improvement {spec.min_improvement:g}")
    else:
        reason = f"better than {published} by {improved:.4f} on {spec.metric}"
    return Promotion(promoted=not failed, reason=reason, champion_revision=champion_revision, rows=rows)


def status(row: Comparison) -> str:
    return "-" if not row.gated else "pass" if row.passed else "FAIL"


def comparison_table(promotion: Promotion) -> str:
    """Markdown: rule by rule, champion, challenger, delta, pass/FAIL; or the reason when nothing was compared."""
    if not promotion.rows:
        return f"Champion vs challenger: {promotion.reason}."
    lines = ["| metric | champion | challenger | delta | rule | status |", "| --- | --- | --- | --- | --- | --- |"]
    for row in promotion.rows:
        lines.append(
            f"| {row.name} | {row.champion:.4f} | {row.challenger:.4f} | {row.delta:+.4f} | {row.rule} | "
            f"{status(row)} |"
        )
    verdict = "Promoted" if promotion.promoted else "Not promoted"
    return "\n".join([*lines, "", f"{verdict}: {promotion.reason}."])


def comparison_line(promotion: Promotion) -> str:
    """The decision and its figures on one line: 'Not promoted: ... f1 0.9100 vs 0.9300 (-0.0200, improves by >=
    0.005: FAIL)'."""
    verdict = "Promoted" if promotion.promoted else "Not promoted"
    figures = "; ".join(
        f"{row.name} {row.challenger:.4f} vs {row.champion:.4f} ({row.delta:+.4f}, {row.rule}: {status(row)})"
        for row in promotion.rows
    )
    return f"{verdict}: {promotion.reason}." + (f" New vs published: {figures}." if figures else "")
