"""The PDF, read back with pypdf: A4 portrait pages carrying every text of the HTML page (title,
summary, headings, captions, table headings and rows, notes), each figure the text width and on
one page with its title and caption, long tables continued under their header."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from html.parser import HTMLParser

import pytest
from pypdf import PdfReader

from host_tools.report.content import Chart, Heading, report_content
from host_tools.report.data import load_report_data
from host_tools.report.figures import build_figures
from host_tools.report.pdf import BOTTOM_MARGIN, SIDE_MARGIN, TEXT_WIDTH, TOP_MARGIN, write_pdf
from host_tools.report.render import render_html

UTC = timezone.utc
GENERATED = datetime(2025, 3, 17, 9, 0, tzinfo=UTC)
A4_PT = (595.28, 841.89)
FOOT = re.compile(
    r"Hip-hinge practice report: patient \S+, generated [\d-]+ [\d:]+ UTC page \d+ of \d+"
)


def plain(text: str) -> str:
    """Whitespace as single spaces; the PDF's colour swatches (a square glyph) dropped."""
    return " ".join(text.replace("\u25a0", " ").replace("\xa0", " ").split())


class PageText(HTMLParser):
    """The HTML page's texts, one per element a reader sees as a unit: title, meta line,
    summary items, headings, captions, notes, footer, and each table row (cells joined)."""

    UNITS = {"h1", "h2", "h3", "li", "p", "figcaption", "footer", "tr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.units: list[tuple[str, str]] = []
        self._open: list[tuple[str, list[str]]] = []
        self._in_svg = 0

    def handle_starttag(self, tag, attrs):
        if tag == "svg":
            self._in_svg += 1
        elif tag in self.UNITS and not self._in_svg:
            self._open.append((tag, []))
        elif tag in ("td", "th") and self._open:
            self._open[-1][1].append(" ")

    def handle_endtag(self, tag):
        if tag == "svg":
            self._in_svg -= 1
        elif self._open and self._open[-1][0] == tag:
            name, parts = self._open.pop()
            self.units.append((name, plain("".join(parts))))

    def handle_data(self, data):
        if self._open and not self._in_svg:
            self._open[-1][1].append(data)


def html_units(page: str) -> list[tuple[str, str]]:
    parser = PageText()
    parser.feed(page)
    return [(tag, text) for tag, text in parser.units if text]


def page_texts(reader: PdfReader) -> list[str]:
    return [plain(p.extract_text()) for p in reader.pages]


def body_text(reader: PdfReader) -> str:
    """The whole document's text without the page feet (a paragraph may go on over a page)."""
    return " ".join(FOOT.sub(" ", t) for t in page_texts(reader)).replace("  ", " ")


def images(page) -> list[tuple[list[float], object]]:
    """(transformation matrix, XObject) of each image the page draws."""
    drawn = []
    xobjects = page["/Resources"].get("/XObject", {})

    def visit(op, args, cm, tm):
        if op == b"Do":
            obj = xobjects[args[0]].get_object()
            if obj["/Subtype"] == "/Image":
                drawn.append((list(cm), obj))

    page.extract_text(visitor_operand_before=visit)
    return drawn


def report(conn, tmp_path, patient: str):
    data = load_report_data(conn, patient, tz=UTC, today=date(2025, 3, 20))
    path = tmp_path / f"{patient}.pdf"
    pages = write_pdf(data, path, GENERATED)
    reader = PdfReader(path)
    assert len(reader.pages) == pages
    return data, reader


@pytest.mark.parametrize("patient", ["P-0001", "P-0002", "P-0003"])
def test_pdf_carries_every_text_of_the_html_page(conn, week, tmp_path, patient):
    data, reader = report(conn, tmp_path, patient)
    units = html_units(render_html(data, GENERATED))
    kinds = {tag for tag, _ in units}
    assert {"h1", "li", "h2", "p", "footer"} <= kinds
    if patient == "P-0001":
        assert {"h3", "figcaption", "tr"} <= kinds
        # sessions, calibrations, drift, the 30-day monitoring window (head + one row)
        assert len([1 for tag, _ in units if tag == "tr"]) == 1 + 57 + 1 + 2 + 1 + 1 + 1 + 1
    text = body_text(reader)
    missing = [(tag, unit) for tag, unit in units if unit not in text]
    assert missing == []


def test_pdf_pages_are_a4_portrait_and_numbered(conn, week, tmp_path):
    _, reader = report(conn, tmp_path, "P-0001")
    n = len(reader.pages)
    assert 2 <= n <= 5  # the fortnight: summary and five figures on few pages, not one a page
    for i, page in enumerate(reader.pages, 1):
        box = page.mediabox
        assert (float(box.width), float(box.height)) == pytest.approx(A4_PT, abs=0.5)
        assert f"page {i} of {n}" in plain(page.extract_text())


def test_each_figure_is_page_wide_on_one_page_with_title_and_caption(conn, week, tmp_path):
    data, reader = report(conn, tmp_path, "P-0001")
    texts = page_texts(reader)
    plots = build_figures(data)
    per_page = [images(page) for page in reader.pages]
    assert sum(len(p) for p in per_page) == len(plots) == 5
    width, height = A4_PT
    for plot in plots:
        (page,) = [i for i, t in enumerate(texts) if plot.title in t]
        assert plain(plot.caption) in texts[page], plot.key  # caption under it, same page
        titles_here = [p for p in plots if p.title in texts[page]]
        assert len(per_page[page]) == len(titles_here), plot.key
    # A section's heading stays with its first figure: the next text on the same page.
    blocks = report_content(data, GENERATED).blocks
    for before, block in zip(blocks, blocks[1:], strict=False):
        if isinstance(block, Chart) and isinstance(before, Heading):
            assert any(f"{before.text} {block.plot.title}" in t for t in texts), before.text
    for drawn in per_page:
        for (a, b, c, d, x, y), xobject in drawn:
            assert (b, c) == (0, 0)
            assert a == pytest.approx(TEXT_WIDTH, abs=0.5)  # the text width, not a thumbnail
            assert x == pytest.approx(SIDE_MARGIN, abs=0.5)
            assert y >= BOTTOM_MARGIN - 0.5 and y + d <= height - TOP_MARGIN + 0.5
            assert xobject["/Width"] >= 1500  # pixels across: print resolution
            assert d / a == pytest.approx(xobject["/Height"] / xobject["/Width"], rel=0.01)


def test_a_long_table_goes_on_under_its_header(conn, week, tmp_path):
    data, reader = report(conn, tmp_path, "P-0001")
    header = "Session start Reps Clean head lost mid-back lost sacrum lost Median depth"
    first_rows = [
        t
        for t in page_texts(reader)
        if re.search(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d+ Mar \d\d:\d\d 10 ", t)
    ]
    assert len(first_rows) >= 2  # 57 sessions do not fit one page
    for text in first_rows:
        assert header in text
