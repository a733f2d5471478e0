"""The report as one self-contained HTML page: `content.report_content`'s blocks as HTML.

    html = render_html(data, generated=datetime.now(timezone.utc))

The page carries its plots as inline SVG and its style inline: no script, no network, no font
to fetch, so it opens in any browser and can be mailed or attached to a record. The PDF
(`pdf.write_pdf`) lays out the same blocks for A4.
"""

from __future__ import annotations

import html
from datetime import datetime

from host_tools.report.content import (
    Block,
    Bullets,
    Chart,
    ColourKey,
    Heading,
    Note,
    Table,
    report_content,
)
from host_tools.report.data import ReportData
from host_tools.report.figures import figure_svg

CSS = """
body { font: 15px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #1d1d1d; margin: 0 auto; max-width: 880px; padding: 24px; background: #fff; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 6px; border-bottom: 1px solid #ddd; padding-bottom: 3px; }
.meta { color: #555; margin: 0 0 14px; }
.summary { background: #f3f7f5; border-left: 5px solid #009E73; padding: 10px 16px 10px 30px;
           margin: 0; }
.summary li { margin: 3px 0; }
figure { margin: 8px 0 18px; }
h3 { font-size: 15px; margin: 10px 0 2px; }
figcaption { color: #444; font-size: 13px; margin-top: 2px; }
.plot-svg { width: 100%; height: auto; display: block; }
.note { color: #555; font-style: italic; }
table { border-collapse: collapse; font-size: 13px; width: 100%; }
th, td { padding: 3px 6px; border-bottom: 1px solid #e6e6e6; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f6f6f6; }
.key { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
footer { color: #777; font-size: 12px; margin-top: 30px; }
@media print { body { max-width: none; } figure, table { page-break-inside: avoid; } }
"""


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _code(text: str) -> str:
    """Backticked command names in summary lines as <code>."""
    parts = _esc(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _note(text: str, id: str | None = None) -> str:
    ident = f' id="{_esc(id)}"' if id else ""
    return f'<p class="note"{ident}>{_code(text)}</p>'


def _table(t: Table) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in t.head)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>" for row in t.rows
    )
    return f'<table id="{_esc(t.id)}"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def block_html(block: Block) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}>{_esc(block.text)}</h{block.level}>"
    if isinstance(block, Bullets):
        items = "".join(f"<li>{_code(line)}</li>" for line in block.lines)
        return f'<ul class="summary" id="{_esc(block.id)}">{items}</ul>'
    if isinstance(block, Note):
        return _note(block.text, block.id)
    if isinstance(block, Chart):
        plot = block.plot
        return (
            f'<figure id="fig-{plot.key}"><h3>{_esc(plot.title)}</h3>'
            f"{figure_svg(plot.figure, plot.key)}"
            f"<figcaption>{_esc(plot.caption)}</figcaption></figure>"
        )
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, ColourKey):
        swatches = " ".join(
            f'<span class="key" style="background:{colour}"></span>{_esc(label)}'
            for colour, label in block.entries
        )
        return f'<p class="note">{_esc(block.before)} {swatches}{_esc(block.after)}</p>'
    raise TypeError(f"no HTML for {block!r}")


def render_html(data: ReportData, generated: datetime) -> str:
    doc = report_content(data, generated)
    body = [f"<h1>{_esc(doc.title)}</h1>", f'<p class="meta">{_code(doc.meta)}</p>']
    body += [block_html(b) for b in doc.blocks]
    body.append(f"<footer>{_esc(doc.footer)}</footer>")
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{_esc(doc.title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
