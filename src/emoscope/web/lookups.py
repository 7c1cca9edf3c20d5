"""Rows and reports by id for the routes: a missing one is a 404 naming it, an unfinished report a 409."""

from __future__ import annotations

from pathlib import Path

from fastapi import HTTPException

from emoscope.report.schema import Report
from emoscope.web.db import ID, Interview, JobState
from emoscope.web.services import Services

def get_or_404(session, model, key: str, what: str):
    """The row of ``model`` with id ``key``, or 404 naming it (a malformed id is simply not found)."""
    row = session.get(model, key) if ID.fullmatch(key) else None
    if row is None:
        shown = key if len(key) <= 80 else key[:80] + "..."
        raise HTTPException(404, f"no {what} {shown!r}")
    return row


QUESTION_RULES = dict(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$",
                      description="a question id, e.g. q3")
"""As an upload's question: printable, so no NUL reaches the database (PostgreSQL refuses it)."""


def finished_report(svc: Services, interview: Interview) -> tuple[Path, Path]:
    """The report's (JSON, HTML) paths; 409 while the job has not finished well."""
    job = interview.job
    if job.state != JobState.done:
        raise HTTPException(409, f"no report: the job is {job.state.value}" + (f" ({job.error})" if job.error else ""))
    json_path, html_path = svc.storage.report(interview.candidate_id, interview.id)
    if not json_path.is_file():
        raise HTTPException(410, "the report's files are gone from the data folder")
    return json_path, html_path


def load_report(svc: Services, interview: Interview) -> Report:
    return Report.model_validate_json(finished_report(svc, interview)[0].read_text(encoding="utf-8"))
