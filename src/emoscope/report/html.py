"""A self-contained HTML page for a report: charts embedded as base64 PNG, no external assets."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from emoscope.cues import Cue, create_cues
from emoscope.files import write_text_atomic
from emoscope.report.schema import PersonReport, Report
from emoscope.video.pipeline import AnalysisOptions


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _row(*cells) -> str:
    return "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>"


def _fmt(value: float | None, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:.2f}{unit}"


def person_rows(person: PersonReport, cues: list[Cue]) -> list[tuple[str, str]]:
    """(title, text) of a person's summary, as the HTML and PDF reports show it; ``cues`` in report order."""
    return [
        ("seen", f"{person.first_seen:.2f}-{person.last_seen:.2f} s ({person.visible_seconds:.1f} s visible)"),
        ("dominant emotion", person.dominant_emotion),
        ("distinct emotions", str(person.distinct_emotions)),
        ("longest episode", f"{person.longest_episode.label} at {person.longest_episode.start:.2f} s for "
         f"{person.longest_episode.duration:.2f} s" if person.longest_episode else "none"),
        ("shortest episode", f"{person.shortest_episode.label} at {person.shortest_episode.start:.2f} s for "
         f"{person.shortest_episode.duration:.2f} s" if person.shortest_episode else "none"),
        ("transitions / min", f"soft {person.transitions.soft_per_minute:.2f}, "
         f"hard {person.transitions.hard_per_minute:.2f}"),
        *((cue.title, cue.text(getattr(person, cue.report_key, None))) for cue in cues),
        ("first visible", _fmt(person.response.first_visible_s, " s")),
        ("first expression", "none" if person.response.first_expression is None else
         f"{person.response.first_expression} at {person.response.first_expression_s:.2f} s"),
        ("intervals", ", ".join(f"{i.name}: {i.dominant or '-'}" for i in person.intervals)),
    ]


def _person(person: PersonReport, charts: list[Path], cues: list[Cue]) -> str:
    rows = [_row(title, text) for title, text in person_rows(person, cues)]
    average = "".join(_row(k, f"{v:.3f}", f"{person.time_share[k]:.1%}") for k, v in person.average_probabilities.items())
    return (f"<section><h2>Person {person.track_id}</h2><table>{''.join(rows)}</table>"
            f"<h3>Emotions</h3><table><tr><th>emotion</th><th>mean probability</th><th>share of time</th></tr>"
            f"{average}</table><div class=charts>{''.join(_img(p) for p in charts)}</div></section>")


def in_report_order(cues: list[Cue]) -> list[Cue]:
    """Cues in the order their sections have in a person's report: the schema's fields first, then
    sections of other cues as registered."""
    fields = list(PersonReport.model_fields)
    return sorted(cues, key=lambda cue: fields.index(cue.report_key) if cue.report_key in fields else len(fields))


def report_cues(report: Report) -> list[Cue]:
    """The cues of a written report's analysis (from its options), in report order: what reads its
    sections back, e.g. for the web app's summary and the PDF."""
    return in_report_order(create_cues(AnalysisOptions.model_validate(report.analysis.options),
                                       report.analysis.model_classes))


LAWFUL_USE_NOTICE = (
    "Expressions are read from the face only: they are cues, not a verdict on what a person feels. In the EU, "
    "inferring emotions in the workplace (hiring included) and in education is prohibited except for medical or "
    "safety reasons (AI Act, Regulation (EU) 2024/1689, Article 5(1)(f), since 2 February 2025). Intended uses: "
    "research, user studies, accessibility, safety, your own recordings; see docs/lawful-use.md. Not legal advice.")
"""Printed at the foot of every report and web page, where users decide what to do with the numbers."""


def write_html(report: Report, charts: dict[int, list[Path]], path: Path, cues: list[Cue]) -> Path:
    """``cues``: every cue of the analysis, enabled or not (a disabled one's row says so)."""
    a, v = report.analysis, report.video
    meta = "".join(_row(k, val) for k, val in report.metadata.items())
    summary = "".join([
        _row("video", f"{v.source} ({v.width}x{v.height}, {v.fps:.2f} fps, {v.duration:.1f} s)"),
        _row("frames analysed", a.frames_analysed),
        _row("face visible", f"{report.face_visible_share:.1%} of analysed frames"),
        _row("model", f"{a.model} ({', '.join(a.model_classes)})"),
        _row("detector", a.detector),
        _row("processing", f"{a.processing_fps:.1f} frames/s ({a.seconds:.1f} s)"),
    ])
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
    notes += "".join(f"<li>crowd panic alert at {a['time']:.1f} s: {a['in_panic']} of {a['faces']} faces</li>"
                     for a in report.crowd_alerts)
    cues = in_report_order(cues)
    people = "".join(_person(p, charts.get(p.track_id, []), cues) for p in report.people) or "<p>No person was found.</p>"
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>emoscope report: {html.escape(Path(v.source).name)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; margin: .5em 0 1em; }} td, th {{ border: 1px solid #ccc; padding: .25em .6em; text-align: left; }}
.charts img {{ max-width: 100%; margin: .3em; }} section {{ border-top: 2px solid #eee; margin-top: 1.5em; }}
</style></head><body>
<h1>Behavioural report</h1>
<table>{summary}{meta}</table>
{f"<ul>{notes}</ul>" if notes else ""}
{people}
<p><small>{html.escape(LAWFUL_USE_NOTICE)}</small></p>
<p><small>emoscope {html.escape(a.emoscope_version)}, report schema {report.schema_version}, created {report.created}.
Definitions: docs/report.md.</small></p>
</body></html>
"""
    return write_text_atomic(path, page)
