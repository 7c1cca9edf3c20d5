"""The shareable PDF (emoscope.report.pdf) made from a real report of the sample clip, read back by
rendering every page with PDFium: the expected pages, none blank, the charts drawn, the five
intervals, the cues and the caveat that expressions are cues, not verdicts, in its words."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_emoscope
from pdf_pages import read_pdf

from emoscope.errors import DataError
from emoscope.report.html import LAWFUL_USE_NOTICE
from emoscope.report.pdf import CAVEAT_TITLE, PdfPart, write_pdf, written_report
from emoscope.report.timeline import INTERVAL_NAMES

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "WolfgangLanger_Pexels.mp4"
pytest.importorskip("fpdf", reason="fpdf2 is not installed (the video extra)")
pytest.importorskip("pypdfium2", reason="pypdfium2 is not installed (the dev extra)")


@pytest.fixture(scope="module")
def report_json(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("analysed")
    result = run_emoscope("analyze", SAMPLE, "--out", out, "--fps", "4", "--max-seconds", "6")
    assert result.returncode == 0, result.stderr
    return out / f"{SAMPLE.stem}.report.json"


def _words(text: str) -> str:
    return " ".join(text.split())


def test_a_profile_with_two_reports_and_one_missing(report_json, tmp_path):
    part = written_report(report_json)
    charts = part.charts[1]
    assert [p.name.split(".")[-2] for p in charts][:3] == ["timeline", "intervals", "shares"] and len(charts) == 4
    parts = [PdfPart("Question q1", part.report, part.charts, ["Tell us about a project you are proud of."]),
             PdfPart("Question q2", None, status="No report: the job is failed (not a readable video)."),
             PdfPart("Question q3", part.report, part.charts)]
    path = write_pdf(tmp_path / "profile.pdf", "Candidate profile: Zoë Łukasiewicz", parts,
                     profile=[("candidate", "Zoë Łukasiewicz"), ("interviews", "3 (2 analysed)")])
    assert not list(tmp_path.glob(".*"))  # written atomically: no temporary file left
    pages = read_pdf(path.read_bytes())

    # the cover, then each part from a new page: a report as many pages as it takes alone (its summary,
    # then its charts), the part without a report one
    alone = len(read_pdf(write_pdf(tmp_path / "alone.pdf", "One", [parts[0]]).read_bytes())) - 1
    assert alone >= 2
    starts = [i for i, page in enumerate(pages) for p in parts if _words(page.text).startswith(
        f"emoscope · Candidate profile: Zoë Łukasiewicz {p.title}")]
    assert starts == [1, 1 + alone, 2 + alone] and len(pages) == 2 + 2 * alone
    for number, page in enumerate(pages, 1):
        assert page.ink > 0.002, f"page {number} is blank"
        assert f"page {number} of {len(pages)}" in page.text and CAVEAT_TITLE in page.text

    cover = _words(pages[0].text)
    assert "Zoë Łukasiewicz" in cover and _words(LAWFUL_USE_NOTICE) in cover
    assert "Question q2" in cover and "No report: the job is failed" in cover
    missing = pages[1 + alone]
    assert "No report: the job is failed" in missing.text and missing.images == 0

    first = pages[1:1 + alone]
    report = " ".join(page.text for page in first)
    person = part.report.people[0]
    for interval in person.intervals:
        assert f"{interval.name} {interval.start:.1f}-{interval.end:.1f} s {interval.dominant or 'not seen'}" in _words(report)
    assert [i.name for i in person.intervals] == list(INTERVAL_NAMES)
    for cue in ("blinks", "face touches", "gaze", "head pose"):
        assert cue in report
    assert "Tell us about a project you are proud of." in pages[1].text
    # the four charts are drawn: embedded pictures with colour on the pages that hold them
    assert sum(page.images for page in first) == len(charts)
    assert all(page.colour > 0.02 for page in first if page.images)


def test_a_pdf_without_parts_is_the_cover_alone(tmp_path):
    pages = read_pdf(write_pdf(tmp_path / "empty.pdf", "Candidate profile: Bo", [], [("candidate", "Bo")]).read_bytes())
    assert len(pages) == 1 and CAVEAT_TITLE in pages[0].text and pages[0].ink > 0.002


def test_a_file_that_is_not_a_report_is_one_line(tmp_path):
    bad = tmp_path / "x.report.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match=r"x\.report\.json: not a readable report") as caught:
        written_report(bad)
    assert "\n" not in str(caught.value)
    with pytest.raises(DataError, match="not a readable report"):
        written_report(tmp_path / "missing.report.json")
