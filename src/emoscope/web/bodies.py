"""The bodies of the REST API's requests and responses (:mod:`emoscope.web.routes`), as OpenAPI shows them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from emoscope.web.db import JobState

class CandidateIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]*\S[^\x00-\x1f]*$")


class ReviewIn(BaseModel):
    notes: str | None = Field(None, max_length=10_000, description="the analyst's notes (None clears them)")
    rating: int | None = Field(None, ge=1, le=5, description="1 (weak) to 5 (strong); None clears it")


class RowOut(BaseModel):
    """A response body read from a database row's attributes (relationships and properties too)."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, row, **extra):
        return cls.model_validate(row).model_copy(update=extra)


class JobOut(RowOut):
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


class InterviewOut(RowOut):
    id: str
    candidate_id: str
    question: str
    created_at: datetime
    notes: str | None
    rating: int | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    job: JobOut


class CandidateOut(RowOut):
    id: str
    name: str
    created_at: datetime
    interviews: list[InterviewOut]


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
