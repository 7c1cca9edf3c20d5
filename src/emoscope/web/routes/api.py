"""The REST API under /v1 (OpenAPI at /docs): candidates, interviews (an uploaded video and a question,
analysed by a job), jobs, reports and their files, single photos, models."""

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
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from emoscope.errors import DataError
from emoscope.report.schema import Report
from emoscope.runtime.predictor import IMAGE_MODELS, VIDEO_MODELS, default_model, list_pretrained
from emoscope.video.source import VideoSource
from emoscope.web.db import ID, Candidate, Interview, Job, JobState, new_id
from emoscope.web.images import check_model
from emoscope.web.retention import delete_candidate, delete_interview
from emoscope.web.services import Services, services
from emoscope.web.storage import CHART, OUTPUT_NAME
from emoscope.web.summary import main_person, summary_rows
from emoscope.web.uploads import form_file, form_text, read_form, save

router = APIRouter()
EVENTS_POLL_S = 0.5


# -- response bodies ---------------------------------------------------------------------------------

class CandidateIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]*\S[^\x00-\x1f]*$")


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
    job: JobOut

    @classmethod
    def of(cls, interview: Interview) -> InterviewOut:
        return cls(id=interview.id, candidate_id=interview.candidate_id, question=interview.question,
                   created_at=interview.created_at, job=JobOut.of(interview.job))


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
def create_candidate(body: CandidateIn, svc: Services = Depends(services)):
    with svc.sessions.begin() as session:
        candidate = Candidate(name=body.name.strip())
        session.add(candidate)
        session.flush()
        return CandidateOut.of(candidate)


@router.get("/candidates", response_model=list[CandidateOut], tags=["candidates"])
def list_candidates(svc: Services = Depends(services)):
    with svc.sessions() as session:
        return [CandidateOut.of(c) for c in session.scalars(select(Candidate).order_by(Candidate.created_at))]


@router.get("/candidates/{candidate_id}", response_model=CandidateOut, tags=["candidates"])
def get_candidate(candidate_id: str, svc: Services = Depends(services)):
    with svc.sessions() as session:
        return CandidateOut.of(_get(session, Candidate, candidate_id, "candidate"))


@router.delete("/candidates/{candidate_id}", status_code=204, tags=["candidates"])
def remove_candidate(candidate_id: str, svc: Services = Depends(services)):
    """The candidate, every interview, report and video of theirs: rows and files."""
    with svc.sessions() as session:
        candidate = _get(session, Candidate, candidate_id, "candidate")
        unfinished = [i.job.id for i in candidate.interviews if not i.job.state.finished]
    for job_id in unfinished:  # their workers must stop writing into the folder first
        svc.runner.cancel(job_id)
    with svc.sessions.begin() as session:
        delete_candidate(session, svc.storage, _get(session, Candidate, candidate_id, "candidate"))
    return Response(status_code=204)


# -- interviews ----------------------------------------------------------------------------------------

UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["video", "question"],
    "properties": {"video": {"type": "string", "format": "binary"},
                   "question": {"type": "string", "maxLength": 100, "description": "question id, e.g. q3"},
                   "model": {"type": "string", "description": "a shipped model (GET /v1/models)"}}}}}}}


@router.post("/candidates/{candidate_id}/interviews", status_code=202, response_model=InterviewOut,
             tags=["interviews"], openapi_extra=UPLOAD_BODY)
async def upload_interview(candidate_id: str, request: Request, svc: Services = Depends(services)):
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
        interview = await run_in_threadpool(_store_interview, svc, candidate_id, upload, question, model)
    finally:
        await form.close()
    svc.runner.submit(interview.job.id)
    return InterviewOut.of(interview)


def _store_interview(svc: Services, candidate_id: str, upload, question: str, model: str) -> Interview:
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


@router.get("/interviews", response_model=list[InterviewOut], tags=["interviews"])
def list_interviews(question: str | None = Query(None, **QUESTION_RULES), svc: Services = Depends(services)):
    with svc.sessions() as session:
        query = select(Interview).order_by(Interview.created_at)
        if question is not None:
            query = query.where(Interview.question == question)
        return [InterviewOut.of(i) for i in session.scalars(query)]


@router.get("/interviews/{interview_id}", response_model=InterviewOut, tags=["interviews"])
def get_interview(interview_id: str, svc: Services = Depends(services)):
    with svc.sessions() as session:
        return InterviewOut.of(_get(session, Interview, interview_id, "interview"))


@router.delete("/interviews/{interview_id}", status_code=204, tags=["interviews"])
def remove_interview(interview_id: str, svc: Services = Depends(services)):
    with svc.sessions() as session:
        job = _get(session, Interview, interview_id, "interview").job
    if not job.state.finished:
        svc.runner.cancel(job.id)
    with svc.sessions.begin() as session:
        delete_interview(session, svc.storage, _get(session, Interview, interview_id, "interview"))
    return Response(status_code=204)


@router.get("/interviews/{interview_id}/report", response_model=Report, tags=["reports"])
def report_json(interview_id: str, svc: Services = Depends(services)):
    """The report as JSON (the schema of `emoscope analyze`'s .report.json)."""
    with svc.sessions() as session:
        json_path, _ = finished_report(svc, _get(session, Interview, interview_id, "interview"))
    return FileResponse(json_path, media_type="application/json", filename=f"{interview_id}.report.json")


@router.get("/interviews/{interview_id}/report.html", tags=["reports"], response_class=FileResponse)
def report_html(interview_id: str, download: bool = False, svc: Services = Depends(services)):
    """The report's self-contained HTML page (charts embedded)."""
    with svc.sessions() as session:
        _, html_path = finished_report(svc, _get(session, Interview, interview_id, "interview"))
    return FileResponse(html_path, media_type="text/html",
                        filename=f"{interview_id}.report.html" if download else None)


@router.get("/interviews/{interview_id}/frames", tags=["reports"], response_class=FileResponse)
def frame_table(interview_id: str, svc: Services = Depends(services)):
    """The per-frame table: one row per face per analysed frame (CSV, or Parquet when the server writes it)."""
    with svc.sessions() as session:
        interview = _get(session, Interview, interview_id, "interview")
        finished_report(svc, interview)
    path = svc.storage.frames(interview.candidate_id, interview.id)
    if path is None:
        raise HTTPException(404, "this interview has no frame table")
    media = "text/csv" if path.suffix == ".csv" else "application/vnd.apache.parquet"
    return FileResponse(path, media_type=media, filename=f"{interview_id}.frames{path.suffix}")


@router.get("/interviews/{interview_id}/charts", response_model=list[str], tags=["reports"])
def chart_names(interview_id: str, svc: Services = Depends(services)):
    with svc.sessions() as session:
        interview = _get(session, Interview, interview_id, "interview")
        finished_report(svc, interview)
    return svc.storage.charts(interview.candidate_id, interview.id)


@router.get("/interviews/{interview_id}/charts/{name}", tags=["reports"], response_class=FileResponse)
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
def compare(question: str = Query(**QUESTION_RULES), svc: Services = Depends(services)):
    """Side by side: the newest finished interview of each candidate for one question."""
    return comparison(svc, question)


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


@router.get("/jobs", response_model=list[JobOut], tags=["jobs"])
def list_jobs(state: JobState | None = None, svc: Services = Depends(services)):
    with svc.sessions() as session:
        query = select(Job).order_by(Job.created_at)
        if state is not None:
            query = query.where(Job.state == state)
        return [JobOut.of(job) for job in session.scalars(query)]


@router.get("/jobs/{job_id}", response_model=JobOut, tags=["jobs"])
def get_job(job_id: str, svc: Services = Depends(services)):
    """State, progress (frames and percent) and the error of a failed job."""
    return _job(svc, job_id)


@router.post("/jobs/{job_id}/cancel", response_model=JobOut, tags=["jobs"])
def cancel_job(job_id: str, svc: Services = Depends(services)):
    """Stop a queued or running job; its partial outputs (and its video, unless kept) are removed."""
    job = _job(svc, job_id)
    if job.state.finished:
        raise HTTPException(409, f"the job is already {job.state.value}")
    svc.runner.cancel(job_id)
    return _job(svc, job_id)


@router.get("/jobs/{job_id}/events", response_class=EventSourceResponse, tags=["jobs"])
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
async def analyze_image(request: Request, svc: Services = Depends(services)):
    """Every face in one photo: box, detector score, label and class probabilities."""
    form = await read_form(request, svc.settings.max_image_bytes)
    try:
        upload = form_file(form, "image", svc.settings.max_image_bytes)
        model = form_text(form, "model", svc.settings.image_model or default_model(IMAGE_MODELS), max_length=200)
        return await run_in_threadpool(_analyze_image, svc, upload, model)
    finally:
        await form.close()


def _analyze_image(svc: Services, upload, model: str) -> ImageAnalysis:
    with tempfile.TemporaryDirectory(dir=svc.storage.tmp) as folder:
        path = save(upload, Path(folder) / "upload.image")
        try:
            (width, height), faces, classes = svc.images.analyze(path, model)
        except DataError as exc:
            raise HTTPException(400, f"not a readable image: {str(exc).removeprefix(f'{path}: ')}") from None
    return ImageAnalysis(model=model, classes=classes, width=width, height=height,
                         faces=[Face(**face.model_dump()) for face in faces])


@router.get("/models", tags=["models"])
def models(svc: Services = Depends(services)) -> dict:
    """The shipped models a job or a photo may name, and the defaults."""
    return {"models": list_pretrained(),
            "video_default": svc.settings.video_model or default_model(VIDEO_MODELS),
            "image_default": svc.settings.image_model or default_model(IMAGE_MODELS)}
