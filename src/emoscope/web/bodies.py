"""The bodies of the REST API's requests and responses (:mod:`emoscope.web.routes`), as OpenAPI shows them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from emoscope.web.db import Candidate, Interview, Job, JobState

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
