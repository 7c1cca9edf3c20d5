"""The REST API under /v1 (OpenAPI at /docs): candidates, interviews (an uploaded video and a question,
analysed by a job; an analyst's notes and rating), jobs, reports and their files, single photos, models.
Every route declares the least role it needs (:func:`emoscope.web.auth.require_role`): viewers read,
analysts change; reading a candidate or a report and every change add a line to the audit log."""

from __future__ import annotations

import asyncio
import os
import tempfile
from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from emoscope.errors import DataError
from emoscope.report.schema import Report
from emoscope.runtime.predictor import IMAGE_MODELS, VIDEO_MODELS, default_model, list_pretrained
from emoscope.video.source import VideoSource
from emoscope.web import audit
from emoscope.web.accounts import Principal
from emoscope.web.auth import require_role
from emoscope.web.db import ID, Candidate, Interview, Job, JobState, new_id, utcnow
from emoscope.web.images import check_model
from emoscope.web.listing import candidates_named
from emoscope.web.retention import delete_candidate, delete_interview
from emoscope.web.services import Services, services
from emoscope.web.storage import CHART, OUTPUT_NAME
from emoscope.web.summary import main_person, summary_rows
from emoscope.web.uploads import form_file, form_text, read_form, save

router = APIRouter()
EVENTS_POLL_S = 0.5
VIEWER, ANALYST = require_role("viewer"), require_role("analyst")


# -- response bodies ---------------------------------------------------------------------------------

class CandidateIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]*\S[^\x00-\x1f]*$")


class ReviewIn(BaseModel):
    notes: str | None = Field(None, max_length=10_000, description="the analyst's notes (None clears them)")
    rating: int | None = Field(None, ge=1, le=5, description="1 (weak) to 5 (strong); None clears it")


class JobOut(BaseModel):
    id: str
    interview_id: str
    state: JobState
    model: str | None
    frames_done: int
    frames_expected: int = Field(description="0 while unknown")
    percent: float
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls(id=job.id, interview_id=job.interview_id, state=job.state, model=job.model,
                   frames_done=job.frames_done, frames_expected=job.frames_expected, percent=job.percent,
                   error=job.error, created_at=job.created_at, started_at=job.started_at,
                   finished_at=job.finished_at)


class InterviewOut(BaseModel):
    id: str
    candidate_id: str
    question: str
    created_at: datetime
    notes: str | None
    rating: int | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    job: JobOut

    @classmethod
    def of(cls, interview: Interview) -> InterviewOut:
        return cls(id=interview.id, candidate_id=interview.candidate_id, question=interview.question,
                   created_at=interview.created_at, notes=interview.notes, rating=interview.rating,
                   reviewed_by=interview.reviewed_by, reviewed_at=interview.reviewed_at, job=JobOut.of(interview.job))


class CandidateOut(BaseModel):
    id: str
    name: str
    created_at: datetime
    interviews: list[InterviewOut]

    @classmethod
    def of(cls, candidate: Candidate) -> CandidateOut:
        return cls(id=candidate.id, name=candidate.name, created_at=candidate.created_at,
                   interviews=[InterviewOut.of(i) for i in candidate.interviews])


class Face(BaseModel):
    box: tuple[float, float, float, float] = Field(description="x1, y1, x2, y2 in image pixels")
    score: float
    label: str
    probabilities: dict[str, float]


class ImageAnalysis(BaseModel):
    model: str
    classes: list[str]
    width: int
    height: int
    faces: list[Face]


class Comparison(BaseModel):
    candidate_id: str
    candidate: str
    interview_id: str
    rows: list[tuple[str, str]]
    intervals_chart: str | None = Field(description="the main person's interval chart (GET .../charts/NAME)")


# -- lookups -------------------------------------------------------------------------------------------

def _get(session, model, key: str, what: str):
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


# -- candidates ----------------------------------------------------------------------------------------

@router.post("/candidates", status_code=201, response_model=CandidateOut, tags=["candidates"])
def create_candidate(body: CandidateIn, svc: Services = Depends(services), who: Principal = Depends(ANALYST)):
    with svc.sessions.begin() as session:
        candidate = Candidate(name=body.name.strip())
        session.add(candidate)
        session.flush()
        audit.record(session, who, "create", "candidate", candidate.id)
        return CandidateOut.of(candidate)


@router.get("/candidates", response_model=list[CandidateOut], tags=["candidates"])
def list_candidates(response: Response, q: str | None = Query(None, max_length=200, pattern=r"^[^\x00]*$",
                                                               description="part of the name, any case"),
                    limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0),
                    svc: Services = Depends(services), who: Principal = Depends(VIEWER)):
    """Oldest first, ``limit`` from ``offset``; the ``X-Total-Count`` header has how many match."""
    query = candidates_named(q)
    with svc.sessions() as session:
        response.headers["X-Total-Count"] = str(session.scalar(select(func.count()).select_from(
            query.order_by(None).subquery())))
        found = [CandidateOut.of(c) for c in session.scalars(query.limit(limit).offset(offset))]
    # the search text is left out: it may be a name, and the log outlives the candidates
    audit.log(svc.sessions, who, "view", "candidate list", detail="searched" if q else "")
    return found


@router.get("/candidates/{candidate_id}", response_model=CandidateOut, tags=["candidates"])
def get_candidate(candidate_id: str, svc: Services = Depends(services), who: Principal = Depends(VIEWER)):
    with svc.sessions() as session:
        found = CandidateOut.of(_get(session, Candidate, candidate_id, "candidate"))
    audit.log(svc.sessions, who, "view", "candidate", candidate_id)
    return found


@router.delete("/candidates/{candidate_id}", status_code=204, tags=["candidates"])
def remove_candidate(candidate_id: str, svc: Services = Depends(services), who: Principal = Depends(ANALYST)):
    """The candidate, every interview, report and video of theirs: rows and files. The audit log keeps
    one line, by id, without their name."""
    with svc.sessions() as session:
        candidate = _get(session, Candidate, candidate_id, "candidate")
        unfinished = [i.job.id for i in candidate.interviews if not i.job.state.finished]
    for job_id in unfinished:  # their workers must stop writing into the folder first
        svc.runner.cancel(job_id)
    with svc.sessions.begin() as session:
        candidate = _get(session, Candidate, candidate_id, "candidate")
        count = len(candidate.interviews)
        delete_candidate(session, svc.storage, candidate)
        audit.record(session, who, "delete", "candidate", candidate_id,
                     f"with {count} interview{'s' * (count != 1)}, their videos and reports")
    return Response(status_code=204)


# -- interviews ----------------------------------------------------------------------------------------

UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["video", "question"],
    "properties": {"video": {"type": "string", "format": "binary"},
                   "question": {"type": "string", "maxLength": 100, "description": "question id, e.g. q3"},
                   "model": {"type": "string", "description": "a shipped model (GET /v1/models)"}}}}}}}


@router.post("/candidates/{candidate_id}/interviews", status_code=202, response_model=InterviewOut,
             tags=["interviews"], openapi_extra=UPLOAD_BODY)
async def upload_interview(candidate_id: str, request: Request, svc: Services = Depends(services),
                           who: Principal = Depends(ANALYST)):
    """Upload a video of the candidate answering a question; its analysis job is queued (202)."""

    def admit() -> None:  # before a byte of the video is read
        with svc.sessions() as session:
            _get(session, Candidate, candidate_id, "candidate")
            svc.runner.check_room(session)

    await run_in_threadpool(admit)
    form = await read_form(request, svc.settings.max_video_bytes)
    try:
        upload = form_file(form, "video", svc.settings.max_video_bytes)
        question = form_text(form, "question")
        if question is None:
            raise HTTPException(400, "question: required (a question id such as q3)")
        model = check_model(form_text(form, "model", svc.settings.video_model or default_model(VIDEO_MODELS),
                                      max_length=200))
        interview = await run_in_threadpool(_store_interview, svc, candidate_id, upload, question, model, who)
    finally:
        await form.close()
    svc.runner.submit(interview.job.id)
    return InterviewOut.of(interview)


def _store_interview(svc: Services, candidate_id: str, upload, question: str, model: str,
                     who: Principal) -> Interview:
    """Check the upload by decoding it, then move it into the interview's folder and add the rows;
    on any failure neither the file nor a row is left."""
    handle, name = tempfile.mkstemp(dir=svc.storage.tmp, suffix=".upload")
    os.close(handle)
    temporary = Path(name)
    interview = Interview(id=new_id(), candidate_id=candidate_id, question=question)
    interview.job = Job(model=model)
    try:
        save(upload, temporary)
        check_video(temporary)
        with svc.runner.admission, svc.sessions.begin() as session:
            _get(session, Candidate, candidate_id, "candidate")  # it may have been deleted meanwhile
            svc.runner.check_room(session)
            session.add(interview)
            audit.record(session, who, "create", "interview", interview.id,
                         f"candidate {candidate_id}, question {question}")
            video = svc.storage.video(candidate_id, interview.id)
            video.parent.mkdir(parents=True)
            os.replace(temporary, video)
    except BaseException:
        svc.storage.remove_interview(candidate_id, interview.id)  # the rows were rolled back
        raise
    finally:
        temporary.unlink(missing_ok=True)
    return interview


def check_video(path: Path) -> None:
    """The decoder must open the file and decode a frame: its content decides, not its name."""
    try:
        with VideoSource(path, prefetch=0) as video:
            if next(iter(video), None) is None:
                raise DataError("no frame could be decoded")
    except DataError as exc:
        raise HTTPException(400, f"not a readable video: {str(exc).removeprefix(f'{path}: ')}") from None


@router.get("/interviews", response_model=list[InterviewOut], tags=["interviews"], dependencies=[Depends(VIEWER)])
def list_interviews(question: str | None = Query(None, **QUESTION_RULES), svc: Services = Depends(services)):
    with svc.sessions() as session:
        query = select(Interview).order_by(Interview.created_at)
        if question is not None:
            query = query.where(Interview.question == question)
        return [InterviewOut.of(i) for i in session.scalars(query)]


@router.get("/interviews/{interview_id}", response_model=InterviewOut, tags=["interviews"])
def get_interview(interview_id: str, svc: Services = Depends(services), who: Principal = Depends(VIEWER)):
    with svc.sessions() as session:
        found = InterviewOut.of(_get(session, Interview, interview_id, "interview"))
    audit.log(svc.sessions, who, "view", "interview", interview_id)
    return found


@router.put("/interviews/{interview_id}/review", response_model=InterviewOut, tags=["interviews"])
def review_interview(interview_id: str, body: ReviewIn, svc: Services = Depends(services),
                     who: Principal = Depends(ANALYST)):
    """Set the analyst's notes and rating (both replaced; null clears)."""
    return InterviewOut.of(save_review(svc, interview_id, body, who))


def save_review(svc: Services, interview_id: str, review: ReviewIn, who: Principal) -> Interview:
    with svc.sessions.begin() as session:
        interview = _get(session, Interview, interview_id, "interview")
        interview.notes = (review.notes or "").strip() or None  # blank notes are no notes
        interview.rating = review.rating
        interview.reviewed_by, interview.reviewed_at = who.name, utcnow()
        # the notes' text stays out of the log: it is about a person
        audit.record(session, who, "update", "interview", interview_id,
                     f"review: rating {review.rating or 'none'}, notes {'set' if interview.notes else 'none'}")
        session.flush()
        session.refresh(interview, ["job"])
        return interview


@router.delete("/interviews/{interview_id}", status_code=204, tags=["interviews"])
def remove_interview(interview_id: str, svc: Services = Depends(services), who: Principal = Depends(ANALYST)):
    with svc.sessions() as session:
        job = _get(session, Interview, interview_id, "interview").job
    if not job.state.finished:
        svc.runner.cancel(job.id)
    with svc.sessions.begin() as session:
        delete_interview(session, svc.storage, _get(session, Interview, interview_id, "interview"))
        audit.record(session, who, "delete", "interview", interview_id)
    return Response(status_code=204)


@router.get("/interviews/{interview_id}/report", response_model=Report, tags=["reports"])
def report_json(interview_id: str, svc: Services = Depends(services), who: Principal = Depends(VIEWER)):
    """The report as JSON (the schema of `emoscope analyze`'s .report.json)."""
    with svc.sessions() as session:
        json_path, _ = finished_report(svc, _get(session, Interview, interview_id, "interview"))
    audit.log(svc.sessions, who, "download", "report", interview_id, "JSON")
    return FileResponse(json_path, media_type="application/json", filename=f"{interview_id}.report.json")


@router.get("/interviews/{interview_id}/report.html", tags=["reports"], response_class=FileResponse)
def report_html(interview_id: str, request: Request, download: bool = False, svc: Services = Depends(services),
                who: Principal = Depends(VIEWER)):
    """The report's self-contained HTML page (charts embedded)."""
    with svc.sessions() as session:
        _, html_path = finished_report(svc, _get(session, Interview, interview_id, "interview"))
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
        interview = _get(session, Interview, interview_id, "interview")
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
        interview = _get(session, Interview, interview_id, "interview")
        finished_report(svc, interview)
    return svc.storage.charts(interview.candidate_id, interview.id)


@router.get("/interviews/{interview_id}/charts/{name}", tags=["reports"], response_class=FileResponse,
            dependencies=[Depends(VIEWER)])
def chart(interview_id: str, name: str, svc: Services = Depends(services)):
    """A chart PNG by the name GET .../charts lists (nothing else of the folder is reachable)."""
    with svc.sessions() as session:
        interview = _get(session, Interview, interview_id, "interview")
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


# -- jobs ----------------------------------------------------------------------------------------------

def _job(svc: Services, job_id: str) -> JobOut:
    with svc.sessions() as session:
        return JobOut.of(_get(session, Job, job_id, "job"))


def existing_job(job_id: str, svc: Services = Depends(services)) -> JobOut:
    """The job, or 404 before a response starts (an event stream cannot turn into an error later)."""
    return _job(svc, job_id)


@router.get("/jobs", response_model=list[JobOut], tags=["jobs"], dependencies=[Depends(VIEWER)])
def list_jobs(state: JobState | None = None, svc: Services = Depends(services)):
    with svc.sessions() as session:
        query = select(Job).order_by(Job.created_at)
        if state is not None:
            query = query.where(Job.state == state)
        return [JobOut.of(job) for job in session.scalars(query)]


@router.get("/jobs/{job_id}", response_model=JobOut, tags=["jobs"], dependencies=[Depends(VIEWER)])
def get_job(job_id: str, svc: Services = Depends(services)):
    """State, progress (frames and percent) and the error of a failed job."""
    return _job(svc, job_id)


@router.post("/jobs/{job_id}/cancel", response_model=JobOut, tags=["jobs"])
def cancel_job(job_id: str, svc: Services = Depends(services), who: Principal = Depends(ANALYST)):
    """Stop a queued or running job; its partial outputs (and its video, unless kept) are removed."""
    job = _job(svc, job_id)
    if job.state.finished:
        raise HTTPException(409, f"the job is already {job.state.value}")
    svc.runner.cancel(job_id)
    audit.log(svc.sessions, who, "cancel", "job", job_id, f"interview {job.interview_id}")
    return _job(svc, job_id)


@router.get("/jobs/{job_id}/events", response_class=EventSourceResponse, tags=["jobs"],
            dependencies=[Depends(VIEWER)])
async def job_events(job_id: str, request: Request, svc: Services = Depends(services),
                     job: JobOut = Depends(existing_job)):
    """Server-sent events: the job (as GET /v1/jobs/{id}) whenever it changes, until it has finished."""
    last = None
    while True:
        seen = (job.state, job.frames_done, job.frames_expected)
        if seen != last:
            last = seen
            yield ServerSentEvent(data=job.model_dump(mode="json"), event="job")
        if job.state.finished or await request.is_disconnected():
            return
        await asyncio.sleep(EVENTS_POLL_S)
        job = await run_in_threadpool(_job, svc, job_id)


# -- photos and models ---------------------------------------------------------------------------------

IMAGE_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["image"],
    "properties": {"image": {"type": "string", "format": "binary"},
                   "model": {"type": "string", "description": "a shipped model (GET /v1/models)"}}}}}}}


@router.post("/images:analyze", response_model=ImageAnalysis, tags=["images"], openapi_extra=IMAGE_BODY)
async def analyze_image(request: Request, svc: Services = Depends(services), who: Principal = Depends(ANALYST)):
    """Every face in one photo: box, detector score, label and class probabilities."""
    form = await read_form(request, svc.settings.max_image_bytes)
    try:
        upload = form_file(form, "image", svc.settings.max_image_bytes)
        model = form_text(form, "model", svc.settings.image_model or default_model(IMAGE_MODELS), max_length=200)
        analysis = await run_in_threadpool(_analyze_image, svc, upload, model)
    finally:
        await form.close()
    await run_in_threadpool(audit.log, svc.sessions, who, "analyze", "photo", None,
                            f"{len(analysis.faces)} faces, {model}")  # the photo itself is never kept
    return analysis


def _analyze_image(svc: Services, upload, model: str) -> ImageAnalysis:
    with tempfile.TemporaryDirectory(dir=svc.storage.tmp) as folder:
        path = save(upload, Path(folder) / "upload.image")
        try:
            (width, height), faces, classes = svc.images.analyze(path, model)
        except DataError as exc:
            raise HTTPException(400, f"not a readable image: {str(exc).removeprefix(f'{path}: ')}") from None
    return ImageAnalysis(model=model, classes=classes, width=width, height=height,
                         faces=[Face(**face.model_dump()) for face in faces])


@router.get("/models", tags=["models"], dependencies=[Depends(VIEWER)])
def models(svc: Services = Depends(services)) -> dict:
    """The shipped models a job or a photo may name, and the defaults."""
    return {"models": list_pretrained(),
            "video_default": svc.settings.video_model or default_model(VIDEO_MODELS),
            "image_default": svc.settings.image_model or default_model(IMAGE_MODELS)}
