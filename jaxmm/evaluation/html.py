"""A self-contained HTML report: tables and the PNG plots embedded as data URIs (one file)."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Mapping, Sequence

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1500px; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
thead th { background: #f0f0f0; }
tr.best td { font-weight: bold; }
img { max-width: 100%; border: 1px solid #eee; margin-bottom: 1.5em; }
.note { color: #555; font-size: 0.9em; }
"""


def table(header: Sequence[str], rows: Sequence[Sequence[str]], highlight: int | None = None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = ' class="best"' if i == highlight else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def image(path: Path, caption: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return (f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
            f"<figcaption class='note'>{html.escape(caption)}</figcaption></figure>")


def page(title: str, sections: Sequence[tuple[str, str]], intro: Mapping[str, str]) -> str:
    """``sections``: (heading, HTML body) pairs; ``intro``: key -> value lines at the top."""
    lines = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in intro.items())
    parts = [f"<h2>{html.escape(h)}</h2>{body}" for h, body in sections]
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1><ul>{lines}</ul>"
            f"{''.join(parts)}</body></html>\n")
