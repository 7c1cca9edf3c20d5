"""The few lines of a report that the dashboard shows per interview (profile and comparison); the full
report page is the engine's own HTML (:mod:`emoscope.report.html`), served as written."""

from __future__ import annotations

from emoscope.report.html import report_cues
from emoscope.report.schema import PersonReport, Report


def main_person(report: Report) -> PersonReport | None:
    """The interviewee: the person visible longest."""
    return max(report.people, key=lambda p: p.visible_seconds, default=None)


def summary_rows(report: Report) -> list[tuple[str, str]]:
    """(title, text) rows for the main person; the cues' rows read as in the report's HTML."""
    person = main_person(report)
    if person is None:
        return [("people", "no face was found")]
    cues = report_cues(report)
    response = person.response
    return [
        ("dominant emotion", person.dominant_emotion),
        *((interval.name, interval.dominant or "-") for interval in person.intervals),
        ("transitions / min", (f"soft {person.transitions.soft_per_minute:.2f}, "
                               f"hard {person.transitions.hard_per_minute:.2f}")),
        *((cue.title, cue.text(getattr(person, cue.report_key, None))) for cue in cues),
        ("first visible", f"{response.first_visible_s:.2f} s"),
        ("first expression", "none" if response.first_expression is None else
         f"{response.first_expression} at {response.first_expression_s:.2f} s"),
        ("face visible", f"{report.face_visible_share:.0%}"),
    ]
