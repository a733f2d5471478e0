"""The report as an A4 PDF for printing: `content.report_content`'s blocks laid out by reportlab.

    pages = write_pdf(data, Path("report.pdf"), generated=datetime.now(timezone.utc))

The same blocks as the HTML page, in the same order: summary, headings, figures with their
titles and captions, tables, notes. A4 portrait with 18 mm side margins; every figure spans
the text width and is kept on one page with its title and caption; long tables continue on the
next page under their repeated header row; each page's foot names the patient and the page
("page 2 of 4"), so a printed sheet that strays is traced back.

reportlab is a pure-Python wheel (no system library, nothing fetched), so this works on a PT's
laptop after `pip install`. The text is set in DejaVu Sans, the font matplotlib ships and draws
its figures in (one typeface on the page, every character of the HTML available, embedded).
Figures are embedded as PNG at FIGURE_DPI.
"""

from __future__ import annotations

import io
from datetime import datetime
from functools import partial
from pathlib import Path
from xml.sax.saxutils import escape

import matplotlib
from matplotlib import rc_context
from PIL import Image as PILImage
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    Image,
    KeepTogether,
    ListFlowable,
    ListItem,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
)
from reportlab.platypus import Table as RLTable

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
from host_tools.report.figures import STYLE, Plot

PAGE = A4  # portrait, in points
SIDE_MARGIN = 18 * mm
TOP_MARGIN = 16 * mm
BOTTOM_MARGIN = 18 * mm  # the page footer sits in it
TEXT_WIDTH = PAGE[0] - 2 * SIDE_MARGIN
# 8 in wide figures shrunk to the 174 mm text width print at about 230 dpi: sharp on an office
# printer, about 60 kB a figure.
FIGURE_DPI = 200
TABLE_PT = 8.0  # table text; shrunk (to MIN_TABLE_PT) when a table's widest cells do not fit
MIN_TABLE_PT = 6.5
CELL_PAD = 4.0
# Room a heading needs below it before a table, for the table's header and first rows.
LEAD_ROOM = 110.0

FONT = "DejaVuSans"
FONTS = {
    FONT: "DejaVuSans.ttf",
    FONT + "-Bold": "DejaVuSans-Bold.ttf",
    FONT + "-Oblique": "DejaVuSans-Oblique.ttf",
    FONT + "-BoldOblique": "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono": "DejaVuSansMono.ttf",
}
INK = colors.HexColor("#1d1d1d")
GREY = colors.HexColor("#555555")


def _register_fonts() -> None:
    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    for name, file in FONTS.items():
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, str(ttf / file)))
    pdfmetrics.registerFontFamily(
        FONT,
        normal=FONT,
        bold=FONT + "-Bold",
        italic=FONT + "-Oblique",
        boldItalic=FONT + "-BoldOblique",
    )


def _styles() -> dict[str, ParagraphStyle]:
    body = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=13, textColor=INK)
    return {
        "body": body,
        "h1": ParagraphStyle("h1", body, fontName=FONT + "-Bold", fontSize=16, leading=20),
        "meta": ParagraphStyle(
            "meta", body, fontSize=8.5, leading=11.5, textColor=GREY, spaceBefore=3, spaceAfter=8
        ),
        "h2": ParagraphStyle(
            "h2",
            body,
            fontName=FONT + "-Bold",
            fontSize=12.5,
            leading=16,
            spaceBefore=12,
            spaceAfter=3,
        ),
        "h3": ParagraphStyle(
            "h3",
            body,
            fontName=FONT + "-Bold",
            fontSize=10,
            leading=13,
            spaceBefore=5,
        ),
        "caption": ParagraphStyle(
            "caption", body, fontSize=8.5, leading=11.5, textColor=GREY, spaceAfter=8
        ),
        "note": ParagraphStyle(
            "note",
            body,
            fontName=FONT + "-Oblique",
            fontSize=8.5,
            leading=11.5,
            textColor=GREY,
            spaceBefore=3,
            spaceAfter=3,
        ),
        "footer": ParagraphStyle(
            "footer",
            body,
            fontSize=7.5,
            leading=10,
            textColor=colors.HexColor("#777777"),
            spaceBefore=16,
        ),
    }


def _markup(text: str) -> str:
    """Plain text (with `backticked` code) as reportlab paragraph markup."""
    parts = escape(text).split("`")
    return "".join(
        f'<font face="DejaVuSansMono">{p}</font>' if i % 2 else p for i, p in enumerate(parts)
    )


def figure_png(plot: Plot, width: float) -> Image:
    """The plot as a PNG image `width` points wide, its aspect kept. Opaque RGB: matplotlib's
    RGBA would add a transparency mask of the same size to the PDF, for a white page."""
    rgba = io.BytesIO()
    fig = plot.figure
    with rc_context(STYLE):
        fig.savefig(rgba, format="png", dpi=FIGURE_DPI, facecolor="white")
    rgba.seek(0)
    rgb = io.BytesIO()
    PILImage.open(rgba).convert("RGB").save(rgb, format="png")
    rgb.seek(0)
    w_in, h_in = fig.get_size_inches()
    return Image(rgb, width=width, height=width * h_in / w_in)


def _table(t: Table) -> RLTable:
    """Columns as wide as their widest cell, stretched to the text width (as the page's
    100% table); the text is shrunk first if the widest cells do not fit."""
    cells = [t.head, *t.rows]

    def natural(size: float) -> list[float]:
        widths = [pdfmetrics.stringWidth(h, FONT + "-Bold", size) for h in t.head]
        for row in t.rows:
            widths = [
                max(w, pdfmetrics.stringWidth(c, FONT, size))
                for w, c in zip(widths, row, strict=True)
            ]
        return [w + 2 * CELL_PAD for w in widths]

    size = TABLE_PT
    widths = natural(size)
    if sum(widths) > TEXT_WIDTH:
        size = max(MIN_TABLE_PT, size * TEXT_WIDTH / sum(widths))
        widths = natural(size)
    widths = [w * TEXT_WIDTH / sum(widths) for w in widths]
    rule = colors.HexColor("#e6e6e6")
    table = RLTable(cells, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        [
            ("FONT", (0, 0), (-1, -1), FONT, size),
            ("FONT", (0, 0), (-1, 0), FONT + "-Bold", size),
            ("TEXTCOLOR", (0, 0), (-1, -1), INK),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f6f6f6")),
            ("LINEBELOW", (0, 0), (-1, -1), 0.5, rule),
            ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
            ("LEFTPADDING", (0, 0), (-1, -1), CELL_PAD),
            ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PAD),
            ("TOPPADDING", (0, 0), (-1, -1), 1.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ]
    )
    return table


def block_flowables(block: Block, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    if isinstance(block, Heading):
        return [Paragraph(escape(block.text), st["h2" if block.level == 2 else "h3"])]
    if isinstance(block, Bullets):
        items = ListFlowable(
            [
                ListItem(Paragraph(_markup(line), st["body"]), leftIndent=12)
                for line in block.lines
            ],
            bulletType="bullet",
            bulletFontName=FONT,
            bulletFontSize=8,
            leftIndent=12,
        )
        # The page's green summary box: a one-cell table with a rule down its left side.
        box = RLTable([[items]], colWidths=[TEXT_WIDTH], hAlign="LEFT")
        box.setStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#f3f7f5")),
                ("LINEBEFORE", (0, 0), (0, -1), 4, colors.HexColor("#009E73")),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
                ("LEFTPADDING", (0, 0), (-1, -1), 8),
            ]
        )
        return [box]
    if isinstance(block, Note):
        return [Paragraph(_markup(block.text), st["note"])]
    if isinstance(block, Chart):
        plot = block.plot
        return [
            Paragraph(escape(plot.title), st["h3"]),
            Spacer(0, 2),
            figure_png(plot, TEXT_WIDTH),
            Paragraph(escape(plot.caption), st["caption"]),
        ]
    if isinstance(block, Table):
        return [_table(block), Spacer(0, 4)]
    if isinstance(block, ColourKey):
        swatches = " ".join(
            f'<font color="{colour}">\u25a0</font>\u00a0{escape(label)}'
            for colour, label in block.entries
        )
        text = f"{escape(block.before)} {swatches}{escape(block.after)}"
        return [Paragraph(text, st["note"])]
    raise TypeError(f"no PDF layout for {block!r}")


def _kept(blocks: list[Block], st: dict[str, ParagraphStyle]) -> list[Flowable]:
    """The blocks' flowables, each figure (title, image, caption) kept on one page, and each
    heading (or colour key) kept with what it introduces: a figure or note whole, a table's
    first rows (LEAD_ROOM), since a long table goes on over pages anyway."""
    story: list[Flowable] = []
    leading: list[Flowable] = []
    for block in blocks:
        flow = block_flowables(block, st)
        if isinstance(block, Heading | ColourKey):
            leading += flow
        elif isinstance(block, Table):
            story += [CondPageBreak(LEAD_ROOM), *leading, *flow]
            leading = []
        else:
            story.append(KeepTogether(leading + flow))
            leading = []
    return story + leading


class _NumberedCanvas(canvas.Canvas):
    """Keeps every page until the last, so each foot can say "page 2 of 4"."""

    def __init__(self, *args, foot: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self._foot = foot
        self._pages: list[dict] = []

    def showPage(self):  # noqa: N802 (reportlab's name)
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self.setFont(FONT, 7.5)
            self.setFillColor(GREY)
            y = BOTTOM_MARGIN / 2
            self.drawString(SIDE_MARGIN, y, self._foot)
            self.drawRightString(PAGE[0] - SIDE_MARGIN, y, f"page {self._pageNumber} of {total}")
            super().showPage()
        super().save()


def write_pdf(data: ReportData, path: Path, generated: datetime) -> int:
    """Write the report to `path` as an A4 PDF; returns its page count."""
    # Images as binary streams, not ASCII85 text (a quarter larger); reportlab reads this
    # setting when it writes, and nothing else in the host tools uses reportlab.
    rl_config.useA85 = 0
    _register_fonts()
    st = _styles()
    doc = report_content(data, generated)
    story: list[Flowable] = [
        Paragraph(escape(doc.title), st["h1"]),
        Paragraph(_markup(doc.meta), st["meta"]),
    ]
    story += _kept(doc.blocks, st)
    story.append(Paragraph(escape(doc.footer), st["footer"]))
    layout = SimpleDocTemplate(
        str(path),
        pagesize=PAGE,
        leftMargin=SIDE_MARGIN,
        rightMargin=SIDE_MARGIN,
        topMargin=TOP_MARGIN,
        bottomMargin=BOTTOM_MARGIN,
        title=doc.title,
        author="dowel report",
        creator="dowel report",
        subject=doc.meta.replace("`", ""),
        invariant=1,  # no timestamp or random id: the same data gives the same bytes
    )
    foot = f"{doc.title}, generated {generated:%Y-%m-%d %H:%M} UTC"
    layout.build(story, canvasmaker=partial(_NumberedCanvas, foot=foot))
    return layout.page
