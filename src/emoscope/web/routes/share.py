"""Reports to share: a candidate's profile and every interview's report as one PDF, or one interview's
(:func:`emoscope.report.pdf.write_pdf`), for the viewer role and up; each download is in the audit log."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Response
from sqlalchemy import select

from emoscope.report.pdf import PdfPart, report_charts, write_pdf
from emoscope.web import audit
from emoscope.web.accounts import Principal
from emoscope.web.auth import require_role
from emoscope.web.db import Candidate, Interview, JobState
from emoscope.web.invitations import InvitationQuestion
from emoscope.web.lookups import finished_report, get_or_404, load_report
from emoscope.web.services import Services, services
from emoscope.web.storage import OUTPUT_NAME

router = APIRouter(prefix="/v1", tags=["reports"])
VIEWER = require_role("viewer")
PDF = {200: {"content": {"application/pdf": {}}, "description": "the PDF"}}


def _part(svc: Services, session, interview: Interview) -> PdfPart:
    """The interview's report, or a line saying why there is none (a candidate's PDF lists them all)."""
    title, lines = f"Question {interview.question}", [f"Recorded {interview.created_at:%Y-%m-%d %H:%M} UTC."]
    asked = session.scalar(select(InvitationQuestion.text).where(InvitationQuestion.interview_id == interview.id))
    if asked is not None:  # recorded through an invitation: the question as the candidate read it
        lines.insert(0, f"“{asked}”")
    try:
        report = load_report(svc, interview)
    except HTTPException as exc:  # not analysed (yet), or its files are gone
        return PdfPart(title, None, lines=lines, status=f"{exc.detail[:1].upper()}{exc.detail[1:]}.")
    folder = svc.storage.interview_dir(interview.candidate_id, interview.id)
    return PdfPart(title, report, report_charts(folder, OUTPUT_NAME), lines=lines)


def _pdf(svc: Services, title: str, parts: list[PdfPart], profile: list[tuple[str, str]], filename: str) -> Response:
    with tempfile.TemporaryDirectory(dir=svc.storage.tmp) as folder:
        content = write_pdf(Path(folder) / "report.pdf", title, parts, profile).read_bytes()
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _profile(candidate: Candidate) -> list[tuple[str, str]]:
    done = sum(i.job.state == JobState.done for i in candidate.interviews)
    return [("candidate", candidate.name), ("added", f"{candidate.created_at:%Y-%m-%d %H:%M} UTC"),
            ("interviews", f"{len(candidate.interviews)} ({done} analysed)")]


@router.get("/candidates/{candidate_id}/report.pdf", response_class=Response, responses=PDF)
def candidate_pdf(candidate_id: str, svc: Services = Depends(services), who: Principal = Depends(VIEWER)):
    """The candidate's profile and the report of each of their interviews (charts, the five intervals,
    cues and the caveat that expressions are cues, not verdicts) as one PDF."""
    with svc.sessions() as session:
        candidate = get_or_404(session, Candidate, candidate_id, "candidate")
        parts = [_part(svc, session, interview) for interview in candidate.interviews]
        audit.log(svc.sessions, who, "download", "candidate report", candidate_id, "PDF")
        return _pdf(svc, f"Candidate profile: {candidate.name}", parts, _profile(candidate),
                    f"{candidate_id}.report.pdf")


@router.get("/interviews/{interview_id}/report.pdf", response_class=Response, responses=PDF)
def interview_pdf(interview_id: str, svc: Services = Depends(services), who: Principal = Depends(VIEWER)):
    """One interview's report as a PDF, with its candidate's profile on the first page."""
    with svc.sessions() as session:
        interview = get_or_404(session, Interview, interview_id, "interview")
        finished_report(svc, interview)  # 409 while it has no report, as for its JSON and HTML
        audit.log(svc.sessions, who, "download", "report", interview_id, "PDF")
        return _pdf(svc, f"{interview.candidate.name}: question {interview.question}", [_part(svc, session, interview)],
                    _profile(interview.candidate), f"{interview_id}.report.pdf")
