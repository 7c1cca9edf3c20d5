"""The REST API's jobs (state, progress, cancelling, server-sent events), single photos and the models.
Viewers read, analysts cancel and send photos (audited; a photo itself is never kept)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from emoscope.errors import DataError
from emoscope.runtime.predictor import IMAGE_MODELS, VIDEO_MODELS, default_model, list_pretrained
from emoscope.web import audit
from emoscope.web.accounts import Principal
from emoscope.web.auth import require_role
from emoscope.web.bodies import Face, ImageAnalysis, JobOut
from emoscope.web.db import Job, JobState
from emoscope.web.lookups import get_or_404
from emoscope.web.services import Services, services
from emoscope.web.uploads import form_file, form_text, read_form, save

router = APIRouter()
EVENTS_POLL_S = 0.5
VIEWER, ANALYST = require_role("viewer"), require_role("analyst")


# -- jobs ----------------------------------------------------------------------------------------------

def _job(svc: Services, job_id: str) -> JobOut:
    with svc.sessions() as session:
        return JobOut.of(get_or_404(session, Job, job_id, "job"))


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
