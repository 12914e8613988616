"""MkDocs hook: the reference pages' generated parts, from the pydantic models that validate pipelines.yaml and from
the CLI's own parser (modelmill/reference.py), written into the page where its marker stands."""

from __future__ import annotations

from typing import Any

MARKERS = {"<!-- reference:pipelines -->": "pipelines_reference", "<!-- reference:cli -->": "cli_reference"}


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    from modelmill import reference

    for marker, builder in MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, getattr(reference, builder)())
    return markdown
