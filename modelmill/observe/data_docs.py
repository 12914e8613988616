"""The validation report as Data Docs that open anywhere: every rule on every split with its result, in one HTML
page with nothing to fetch (GX's own Data Docs load their styles and scripts from CDNs, and are blank offline)."""

from __future__ import annotations

from html import escape

from modelmill.manifests import RuleResult, ValidationReport
from modelmill.observe.text_cells import shorten

HEADERS = ("rule", "where", "severity", "result", "observed", "unexpected")
PAGE = "report.html"
STYLE = """body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1b1f24}h1{font-size:1.4em}h2{font-size:1.1em;
margin-top:1.6em}table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #d0d7de;padding:.3em .6em;
text-align:left;vertical-align:top}th{background:#f6f8fa}.pass{color:#1a7f37}.FAIL{color:#cf222e;font-weight:600}
.warning .FAIL{color:#9a6700}.could{color:#8250df}table.rows{font-size:12px;margin:.2em 0 .2em 1em}"""


def rule_cells(result: RuleResult) -> list[str]:
    """One rule on one split as the cells of HEADERS."""
    outcome = "pass" if result.success else ("could not run" if result.error else "FAIL")
    unexpected = "" if result.unexpected_count is None else (
        f"{result.unexpected_count} ({result.unexpected_percent or 0:.1f}%)")
    observed = shorten(str(result.observed)) if result.observed is not None else (result.error or "")
    return [result.rule, result.source, result.severity, outcome, observed, unexpected]


def by_split(report: ValidationReport) -> dict[str, list[RuleResult]]:
    splits: dict[str, list[RuleResult]] = {}
    for result in report.results:
        splits.setdefault(result.split, []).append(result)
    return splits


def data_docs_html(report: ValidationReport, pipeline: str) -> str:
    """The page: the summary, then a table per split, each failed rule followed by its offending rows."""
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Data Docs: {escape(pipeline)}</title>"
             f"<style>{STYLE}</style></head><body><h1>Data Docs of pipeline <code>{escape(pipeline)}</code></h1>",
             f"<p>{escape(report.summary())}.</p>"]
    for split, results in by_split(report).items():
        parts.append(f"<h2>{escape(split)}</h2><table><tr>{''.join(f'<th>{h}</th>' for h in HEADERS)}</tr>")
        for result in results:
            cells = rule_cells(result)
            outcome = cells[3].split()[0]
            parts.append(f"<tr class={escape(result.severity)}>" + "".join(
                f"<td class={outcome}>{escape(cell)}</td>" if index == 3 else f"<td>{escape(cell)}</td>"
                for index, cell in enumerate(cells)) + "</tr>")
            if result.sample and not result.success:
                columns = list(result.sample[0])
                head = "".join(f"<th>{escape(str(name))}</th>" for name in columns)
                rows = "".join("<tr>" + "".join(f"<td>{escape(str(shorten(row.get(name))))}</td>" for name in columns)
                               + "</tr>" for row in result.sample)
                parts.append(f"<tr><td colspan={len(HEADERS)}><table class=rows><tr>{head}</tr>{rows}</table></td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)
