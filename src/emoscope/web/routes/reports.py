"""The REST API's reports: each interview's report (JSON, HTML), frame table and charts, and the side by
side comparison per question. Reading any of them is for viewers; views and downloads are audited."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse
from sqlalchemy import select

from emoscope.report.schema import Report
from emoscope.web import audit
from emoscope.web.accounts import Principal
from emoscope.web.auth import require_role
from emoscope.web.bodies import Comparison
from emoscope.web.db import Interview, Job, JobState
from emoscope.web.lookups import QUESTION_RULES, finished_report, get_or_404, load_report
from emoscope.web.services import Services, services
from emoscope.web.storage import CHART, OUTPUT_NAME
from emoscope.web.summary import main_person, summary_rows

router = APIRouter()
VIEWER = require_role("viewer")


# -- reports -------------------------------------------------------------------------------------------

@router.get("/interviews/{interview_id}/report", response_model=Report, tags=["reports"])
def report_json(interview_id: str, svc: Services = Depends(services), who: Principal = Depends(VIEWER)):
    """The report as JSON (the schema of `emoscope analyze`'s .report.json)."""
    with svc.sessions() as session:
        json_path, _ = finished_report(svc, get_or_404(session, Interview, interview_id, "interview"))
    audit.log(svc.sessions, who, "download", "report", interview_id, "JSON")
    return FileResponse(json_path, media_type="application/json", filename=f"{interview_id}.report.json")


@router.get("/interviews/{interview_id}/report.html", tags=["reports"], response_class=FileResponse)
def report_html(interview_id: str, request: Request, download: bool = False, svc: Services = Depends(services),
                who: Principal = Depends(VIEWER)):
    """The report's self-contained HTML page (charts embedded)."""
    with svc.sessions() as session:
        _, html_path = finished_report(svc, get_or_404(session, Interview, interview_id, "interview"))
    if download:
        audit.log(svc.sessions, who, "download", "report", interview_id, "HTML")
    elif request.headers.get("sec-fetch-dest") != "iframe":  # embedded, it is the report page's view, logged there
        audit.log(svc.sessions, who, "view", "report", interview_id, "HTML")
    return FileResponse(html_path, media_type="text/html",
                        filename=f"{interview_id}.report.html" if download else None)


@router.get("/interviews/{interview_id}/frames", tags=["reports"], response_class=FileResponse)
def frame_table(interview_id: str, svc: Services = Depends(services), who: Principal = Depends(VIEWER)):
    """The per-frame table: one row per face per analysed frame (CSV, or Parquet when the server writes it)."""
    with svc.sessions() as session:
        interview = get_or_404(session, Interview, interview_id, "interview")
        finished_report(svc, interview)
    path = svc.storage.frames(interview.candidate_id, interview.id)
    if path is None:
        raise HTTPException(404, "this interview has no frame table")
    audit.log(svc.sessions, who, "download", "frame table", interview_id, path.suffix.lstrip("."))
    media = "text/csv" if path.suffix == ".csv" else "application/vnd.apache.parquet"
    return FileResponse(path, media_type=media, filename=f"{interview_id}.frames{path.suffix}")


# charts are not logged one by one: they are parts of a page whose view is
@router.get("/interviews/{interview_id}/charts", response_model=list[str], tags=["reports"],
            dependencies=[Depends(VIEWER)])
def chart_names(interview_id: str, svc: Services = Depends(services)):
    with svc.sessions() as session:
        interview = get_or_404(session, Interview, interview_id, "interview")
        finished_report(svc, interview)
    return svc.storage.charts(interview.candidate_id, interview.id)


@router.get("/interviews/{interview_id}/charts/{name}", tags=["reports"], response_class=FileResponse,
            dependencies=[Depends(VIEWER)])
def chart(interview_id: str, name: str, svc: Services = Depends(services)):
    """A chart PNG by the name GET .../charts lists (nothing else of the folder is reachable)."""
    with svc.sessions() as session:
        interview = get_or_404(session, Interview, interview_id, "interview")
        finished_report(svc, interview)
    if not CHART.fullmatch(name) or name not in svc.storage.charts(interview.candidate_id, interview.id):
        raise HTTPException(404, f"no chart {name!r}")
    return FileResponse(svc.storage.interview_dir(interview.candidate_id, interview.id) / name,
                        media_type="image/png")


@router.get("/compare", response_model=list[Comparison], tags=["reports"])
def compare(question: str = Query(**QUESTION_RULES), svc: Services = Depends(services),
            who: Principal = Depends(VIEWER)):
    """Side by side: the newest finished interview of each candidate for one question."""
    columns = comparison(svc, question)
    audit.log(svc.sessions, who, "view", "comparison", detail=f"question {question}, {len(columns)} candidates")
    return columns


def comparison(svc: Services, question: str) -> list[Comparison]:
    with svc.sessions() as session:
        interviews = session.scalars(select(Interview).join(Job).where(Interview.question == question,
                                                                       Job.state == JobState.done)
                                     .order_by(Interview.created_at)).all()
        newest = {i.candidate_id: i for i in interviews}
        columns = []
        for interview in newest.values():
            report = load_report(svc, interview)
            person = main_person(report)
            chart = f"{OUTPUT_NAME}.person{person.track_id}.intervals.png" if person else None
            columns.append(Comparison(candidate_id=interview.candidate_id, candidate=interview.candidate.name,
                                      interview_id=interview.id, rows=summary_rows(report),
                                      intervals_chart=chart if chart in svc.storage.charts(
                                          interview.candidate_id, interview.id) else None))
        return columns
