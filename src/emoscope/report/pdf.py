"""A PDF to share: a cover page (whose profile, what was analysed, the caveat) and one part per
report, with the video's facts, each person's summary (the cues included), the five intervals, the
emotions and the charts the report wrote. Made with fpdf2 (pure Python, no system libraries, nothing
fetched at run time), in DejaVu Sans from matplotlib's own fonts so names in any Latin, Greek or
Cyrillic script print as given.

``emoscope analyze`` writes a report's JSON and its charts side by side (:func:`written_report`
reads them back); the web app adds the candidate's profile (:mod:`emoscope.web.routes.share`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from emoscope.errors import DataError
from emoscope.files import atomic_output
from emoscope.report.html import LAWFUL_USE_NOTICE, person_rows, report_cues
from emoscope.report.schema import PersonReport, Report

CAVEAT_TITLE = "Expressions are cues, not verdicts"
CHART_ORDER = ("timeline", "intervals", "shares")
"""The report's own charts first, in this order; cue timelines (e.g. head pose) after them."""
FONT = "dejavu"
PAGE_WIDTH_MM = 180  # A4 (210 mm) less the 15 mm margins


@dataclass
class PdfPart:
    """One report in the PDF: a title (e.g. the question), the lines under it, the report (None when
    there is none to show, with ``status`` saying why) and its chart PNGs per person (track id)."""

    title: str
    report: Report | None
    charts: dict[int, list[Path]] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    status: str = ""


def report_charts(folder: Path, stem: str) -> dict[int, list[Path]]:
    """The chart PNGs :class:`~emoscope.report.sink.ReportSink` wrote for ``stem`` in ``folder``
    (``<stem>.person<N>.<chart>.png``), per person, the report's own charts first."""
    pattern = re.compile(rf"{re.escape(stem)}\.person(\d+)\.(\w+)\.png")
    charts: dict[int, list[tuple[int, str, Path]]] = {}
    for path in Path(folder).glob(f"{stem}.person*.png"):
        match = pattern.fullmatch(path.name)
        if match:
            name = match.group(2)
            rank = CHART_ORDER.index(name) if name in CHART_ORDER else len(CHART_ORDER)
            charts.setdefault(int(match.group(1)), []).append((rank, name, path))
    return {track: [path for *_, path in sorted(found)] for track, found in charts.items()}


def written_report(json_path: Path) -> PdfPart:
    """The report ``emoscope analyze`` wrote at ``json_path`` with the charts beside it."""
    json_path = Path(json_path)
    try:
        report = Report.model_validate_json(json_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{json_path}: not a readable report ({type(exc).__name__})") from None
    stem = json_path.name.removesuffix(".report.json")
    return PdfPart(Path(report.video.source).name, report, report_charts(json_path.parent, stem))


class _Document:
    """fpdf2's document with the page frame: a running title at the top, the caveat and page numbers
    at the foot of every page."""

    def __init__(self, title: str):
        import matplotlib
        from fpdf import FPDF

        class Pages(FPDF):
            def header(self) -> None:
                self.set_font(FONT, size=8)
                self.set_text_color(110)
                self.cell(0, 5, f"emoscope · {title}", align="L")
                self.ln(8)
                self.set_text_color(0)

            def footer(self) -> None:
                self.set_y(-13)
                self.set_font(FONT, size=7)
                self.set_text_color(110)
                self.cell(0, 4, f"{CAVEAT_TITLE}: see the notice on page 1.", align="L")
                self.cell(0, 4, f"page {self.page_no()} of {{nb}}", align="R")
                self.set_text_color(0)

        fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
        pdf = Pages(format="A4")
        pdf.set_margins(15, 12, 15)
        pdf.set_auto_page_break(True, margin=18)
        pdf.add_font(FONT, "", fonts / "DejaVuSans.ttf")
        pdf.add_font(FONT, "B", fonts / "DejaVuSans-Bold.ttf")
        pdf.set_title(title)
        pdf.set_creator("emoscope")
        self.pdf = pdf

    def heading(self, text: str, size: float = 16) -> None:
        self.pdf.set_font(FONT, "B", size)
        self.pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(1.5)

    def paragraph(self, text: str, size: float = 9.5) -> None:
        self.pdf.set_font(FONT, size=size)
        self.pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(1.5)

    def table(self, rows: list[tuple], header: tuple | None = None, widths: tuple | None = None,
              size: float = 8.5) -> None:
        from fpdf.fonts import FontFace

        self.pdf.set_font(FONT, size=size)
        with self.pdf.table(col_widths=widths, text_align="LEFT", first_row_as_headings=header is not None,
                            headings_style=FontFace(emphasis="BOLD", fill_color=(236, 240, 244)),
                            line_height=size * 0.55, padding=1) as table:
            for row in ([header] if header else []) + rows:
                table.row([str(cell) for cell in row])
        self.pdf.ln(3)

    def caveat(self) -> None:
        pdf = self.pdf
        pdf.set_fill_color(250, 244, 225)
        pdf.set_font(FONT, "B", 10)
        pdf.multi_cell(0, 6, CAVEAT_TITLE, fill=True, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, size=8.5)
        pdf.multi_cell(0, 4.5, LAWFUL_USE_NOTICE, fill=True, padding=(0, 2, 2, 2), new_x="LMARGIN", new_y="NEXT")
        pdf.set_fill_color(255)  # fpdf2 keeps the colour for later fills (tables' cells)
        pdf.ln(3)

    def charts(self, paths: list[Path]) -> None:
        """Wide charts (timelines) across the page; the others two a row, at one height."""
        from PIL import Image

        row: list[tuple[Path, float]] = []
        for path in paths:
            with Image.open(path) as image:
                ratio = image.height / image.width
            if ratio < 0.45:
                self._images([(path, ratio)])
            else:
                row.append((path, ratio))
                if len(row) == 2:
                    self._images(row)
                    row = []
        if row:
            self._images(row)

    def _images(self, images: list[tuple[Path, float]], gap: float = 4) -> None:
        """A row of images across the page's width, all as high as each other."""
        pdf = self.pdf
        height = (PAGE_WIDTH_MM - gap * (len(images) - 1)) / sum(1 / ratio for _, ratio in images)
        if pdf.will_page_break(height):
            pdf.add_page()
        x, top = pdf.l_margin, pdf.get_y()
        for path, ratio in images:
            pdf.image(path, x=x, y=top, h=height, w=height / ratio)
            x += height / ratio + gap
        pdf.set_y(top + height + 3)


def _person(doc: _Document, person: PersonReport, charts: list[Path], report: Report) -> None:
    doc.heading(f"Person {person.track_id}", 12)
    doc.table(person_rows(person, report_cues(report)), widths=(1, 3))
    doc.heading("The five intervals", 10)
    classes = list(person.average_probabilities)
    doc.table([(i.name, f"{i.start:.1f}-{i.end:.1f} s", i.dominant or "not seen",
                *(f"{(i.mean_probabilities or {}).get(label, 0.0):.2f}" if i.mean_probabilities else "-"
                  for label in classes)) for i in person.intervals],
              header=("interval", "time", "dominant", *classes), size=7.5)
    doc.heading("Emotions over the whole video", 10)
    doc.table([(label, f"{mean:.3f}", f"{person.time_share.get(label, 0.0):.1%}")
               for label, mean in person.average_probabilities.items()],
              header=("emotion", "mean probability", "share of time"), widths=(2, 1, 1))
    doc.charts(charts)


def _part(doc: _Document, part: PdfPart) -> None:
    doc.pdf.add_page()
    doc.heading(part.title, 14)
    for line in part.lines:
        doc.paragraph(line)
    report = part.report
    if report is None:
        doc.paragraph(part.status or "No report.")
        return
    video, analysis = report.video, report.analysis
    doc.table([
        ("video", f"{Path(video.source).name} ({video.width}x{video.height}, {video.fps:.2f} fps, "
                  f"{video.duration:.1f} s)"),
        ("frames analysed", str(analysis.frames_analysed)),
        ("face visible", f"{report.face_visible_share:.1%} of analysed frames"),
        ("model", f"{analysis.model} ({', '.join(analysis.model_classes)})"),
        ("detector", analysis.detector),
        ("report made", f"{report.created} by emoscope {analysis.emoscope_version}"),
        *report.metadata.items(),
    ], widths=(1, 3))
    for note in report.notes:
        doc.paragraph(f"Note: {note}")
    if not report.people:
        doc.paragraph("No person was found in this video.")
    for person in report.people:
        _person(doc, person, part.charts.get(person.track_id, []), report)


def write_pdf(path: Path, title: str, parts: list[PdfPart], profile: list[tuple[str, str]] | None = None) -> Path:
    """Write the PDF at ``path`` (atomically): the cover page with ``title``, the ``profile`` rows (e.g.
    a candidate's) and a line per part, the caveat, then each part from a new page."""
    doc = _Document(title)
    doc.pdf.add_page()
    doc.heading(title, 18)
    if profile:
        doc.table(profile, widths=(1, 3))
    if parts:
        doc.heading("Contents", 11)
        doc.table([(part.title, _overview(part)) for part in parts], header=("part", "summary"), widths=(2, 3))
    doc.caveat()
    for part in parts:
        _part(doc, part)
    with atomic_output(Path(path)) as temporary:
        doc.pdf.output(str(temporary))
    return Path(path)


def _overview(part: PdfPart) -> str:
    if part.report is None:
        return part.status or "no report"
    person = max(part.report.people, key=lambda p: p.visible_seconds, default=None)
    if person is None:
        return "no face found"
    intervals = ", ".join(i.dominant or "-" for i in person.intervals)
    return f"mostly {person.dominant_emotion}; intervals: {intervals}"
