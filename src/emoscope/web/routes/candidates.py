"""The REST API's candidates and their interviews (an uploaded video and a question, analysed by a job;
an analyst's notes and rating). Viewers read, analysts change; reading a candidate and every change add
a line to the audit log."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from emoscope.runtime.predictor import VIDEO_MODELS, default_model
from emoscope.web import audit
from emoscope.web.accounts import Principal
from emoscope.web.auth import require_role
from emoscope.web.bodies import CandidateIn, CandidateOut, InterviewOut, ReviewIn
from emoscope.web.db import Candidate, Interview, Job, new_id, utcnow
from emoscope.web.images import check_model
from emoscope.web.listing import candidates_named
from emoscope.web.lookups import QUESTION_RULES, get_or_404
from emoscope.web.retention import delete_candidate, delete_interview
from emoscope.web.services import Services, services
from emoscope.web.uploads import check_video, form_file, form_text, read_form, save

router = APIRouter()
VIEWER, ANALYST = require_role("viewer"), require_role("analyst")


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


def viewed(svc: Services, who: Principal, row_type, out_type, row_id: str, what: str):
    """One row as its response body (404 when there is none), its viewing written to the audit log."""
    with svc.sessions() as session:
        found = out_type.of(get_or_404(session, row_type, row_id, what))
    audit.log(svc.sessions, who, "view", what, row_id)
    return found


@router.get("/candidates/{candidate_id}", response_model=CandidateOut, tags=["candidates"])
def get_candidate(candidate_id: str, svc: Services = Depends(services), who: Principal = Depends(VIEWER)):
    return viewed(svc, who, Candidate, CandidateOut, candidate_id, "candidate")


@router.delete("/candidates/{candidate_id}", status_code=204, tags=["candidates"])
def remove_candidate(candidate_id: str, svc: Services = Depends(services), who: Principal = Depends(ANALYST)):
    """The candidate, every interview, report and video of theirs: rows and files. The audit log keeps
    one line, by id, without their name."""
    with svc.sessions() as session:
        candidate = get_or_404(session, Candidate, candidate_id, "candidate")
        unfinished = [i.job.id for i in candidate.interviews if not i.job.state.finished]
    for job_id in unfinished:  # their workers must stop writing into the folder first
        svc.runner.cancel(job_id)
    with svc.sessions.begin() as session:
        candidate = get_or_404(session, Candidate, candidate_id, "candidate")
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
            get_or_404(session, Candidate, candidate_id, "candidate")
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
            get_or_404(session, Candidate, candidate_id, "candidate")  # it may have been deleted meanwhile
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


@router.get("/interviews", response_model=list[InterviewOut], tags=["interviews"], dependencies=[Depends(VIEWER)])
def list_interviews(question: str | None = Query(None, **QUESTION_RULES), svc: Services = Depends(services)):
    with svc.sessions() as session:
        query = select(Interview).order_by(Interview.created_at)
        if question is not None:
            query = query.where(Interview.question == question)
        return [InterviewOut.of(i) for i in session.scalars(query)]


@router.get("/interviews/{interview_id}", response_model=InterviewOut, tags=["interviews"])
def get_interview(interview_id: str, svc: Services = Depends(services), who: Principal = Depends(VIEWER)):
    return viewed(svc, who, Interview, InterviewOut, interview_id, "interview")


@router.put("/interviews/{interview_id}/review", response_model=InterviewOut, tags=["interviews"])
def review_interview(interview_id: str, body: ReviewIn, svc: Services = Depends(services),
                     who: Principal = Depends(ANALYST)):
    """Set the analyst's notes and rating (both replaced; null clears)."""
    return InterviewOut.of(save_review(svc, interview_id, body, who))


def save_review(svc: Services, interview_id: str, review: ReviewIn, who: Principal) -> Interview:
    with svc.sessions.begin() as session:
        interview = get_or_404(session, Interview, interview_id, "interview")
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
        job = get_or_404(session, Interview, interview_id, "interview").job
    if not job.state.finished:
        svc.runner.cancel(job.id)
    with svc.sessions.begin() as session:
        delete_interview(session, svc.storage, get_or_404(session, Interview, interview_id, "interview"))
        audit.record(session, who, "delete", "interview", interview_id)
    return Response(status_code=204)
