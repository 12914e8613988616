"""Champion vs challenger: the decision, and the side-by-side table people read it from."""

from __future__ import annotations

from pydantic import BaseModel, Field

from modelmill.config import PromoteSpec
from modelmill.hub.head import HubHead


class Comparison(BaseModel):
    """One rule: the champion's and the challenger's value, the difference, and whether the rule holds."""

    name: str
    champion: float
    challenger: float
    rule: str
    passed: bool

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


def decide(
    spec: PromoteSpec,
    challenger: dict[str, float],
    champion: dict[str, float],
    champion_revision: str,
) -> Promotion:
    """Promote when `spec.metric` improves by `min_improvement` and no guard drops past its tolerance.

    Both dicts hold the averaged metrics and, for class guards, `metric[class]` entries.
    """
    rows = [
        Comparison(
            name=spec.metric, champion=champion[spec.metric], challenger=challenger[spec.metric],
            rule=f"improves by >= {spec.min_improvement:g}",
            passed=challenger[spec.metric] - champion[spec.metric] >= spec.min_improvement - 1e-12,
        )
    ]
    for guard in spec.guards:
        rows.append(
            Comparison(
                name=guard.name, champion=champion[guard.name], challenger=challenger[guard.name],
                rule=f"drops by <= {guard.tolerance:g}",
                passed=champion[guard.name] - challenger[guard.name] <= guard.tolerance + 1e-12,
            )
        )
    failed = [row.name for row in rows if not row.passed]
    published = f"the published model ({champion_revision[:8]})"
    if failed:
        reason = f"not better than {published}: {', '.join(failed)}"
    elif rows[0].delta < -1e-12:  # a drop that a negative min_improvement allows
        reason = (f"worse than {published} by {-rows[0].delta:.4f} on {spec.metric}, allowed by "
                  f"evaluate.promote.min_improvement {spec.min_improvement:g}")
    else:
        reason = f"better than {published} by {rows[0].delta:.4f} on {spec.metric}"
    return Promotion(promoted=not failed, reason=reason, champion_revision=champion_revision, rows=rows)


def comparison_table(promotion: Promotion) -> str:
    """Markdown: rule by rule, champion, challenger, delta, pass/FAIL; or the reason when nothing was compared."""
    if not promotion.rows:
        return f"Champion vs challenger: {promotion.reason}."
    lines = ["| metric | champion | challenger | delta | rule | status |", "| --- | --- | --- | --- | --- | --- |"]
    for row in promotion.rows:
        lines.append(
            f"| {row.name} | {row.champion:.4f} | {row.challenger:.4f} | {row.delta:+.4f} | {row.rule} | "
            f"{'pass' if row.passed else 'FAIL'} |"
        )
    verdict = "Promoted" if promotion.promoted else "Not promoted"
    return "\n".join([*lines, "", f"{verdict}: {promotion.reason}."])


def comparison_line(promotion: Promotion) -> str:
    """The decision and its figures on one line: 'Not promoted: ... f1 0.9100 vs 0.9300 (-0.0200, improves by >=
    0.005: FAIL)'."""
    verdict = "Promoted" if promotion.promoted else "Not promoted"
    figures = "; ".join(
        f"{row.name} {row.challenger:.4f} vs {row.champion:.4f} ({row.delta:+.4f}, {row.rule}: "
        f"{'pass' if row.passed else 'FAIL'})"
        for row in promotion.rows
    )
    return f"{verdict}: {promotion.reason}." + (f" New vs published: {figures}." if figures else "")
