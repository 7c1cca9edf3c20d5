"""The behavioural report: a versioned pydantic schema, written as JSON.

Definitions (also in docs/report.md):
- parts: the video's duration cut into ``parts`` equal slices (default 40); the dominant emotion
  of a slice is the class with the highest mean smoothed probability over the person's frames in it.
- intervals: the same over 5 equal slices named First, First-Mid, Mid, Mid-Last, Last.
- episodes: runs of one smoothed label lasting at least ``min_episode_s``; shorter flickers are
  ignored and do not split an episode.
- transitions: changes between consecutive episodes; hard = positive <-> negative valence, soft =
  every other change (see ``emoscope.report.timeline.DEFAULT_VALENCE``). Rates are per minute
  of the person's visible time.
- response: seconds from the start of the video until the person's face is first seen, and until
  the start of their first episode that is not the model's calm label (neutral, or calm).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from emoscope.cues.blinks import BlinksModel
from emoscope.cues.panic import PanicModel
from emoscope.cues.touch import TouchesModel

REPORT_SCHEMA_VERSION = 1


class EpisodeModel(BaseModel):
    label: str
    start: float = Field(description="seconds from the start of the video")
    duration: float = Field(description="seconds")


class IntervalModel(BaseModel):
    name: str
    start: float
    end: float
    dominant: str | None = Field(description="None when the person was not seen in the interval")
    mean_probabilities: dict[str, float] | None


class TransitionsModel(BaseModel):
    soft: int
    hard: int
    soft_per_minute: float
    hard_per_minute: float


class ResponseModel(BaseModel):
    first_visible_s: float
    first_expression_s: float | None = Field(description="start of the first episode not of the calm label (neutral)")
    first_expression: str | None


class PersonReport(BaseModel):
    # a cue registered beyond the built-in ones adds its section as an extra field (see emoscope.cues)
    model_config = ConfigDict(extra="allow")

    track_id: int
    first_seen: float
    last_seen: float
    frames: int
    visible_seconds: float
    dominant_emotion: str
    average_probabilities: dict[str, float]
    time_share: dict[str, float] = Field(description="share of this person's frames per smoothed label")
    distinct_emotions: int = Field(description="labels with at least one episode of min_episode_s")
    parts: list[str | None]
    intervals: list[IntervalModel]
    episodes: int
    longest_episode: EpisodeModel | None
    shortest_episode: EpisodeModel | None
    transitions: TransitionsModel
    blinks: BlinksModel | None = Field(None, description="None when blinks were not measured")
    touches: TouchesModel | None = Field(None, description="None when face touching was not measured")
    gaze_share: dict[str, float] | None = Field(None, description="share of measured frames per direction")
    panic: PanicModel | None = Field(None, description="None when panic was not scored")
    response: ResponseModel


class VideoModel(BaseModel):
    source: str
    fps: float
    frame_count: int
    duration: float
    width: int
    height: int
    sha256: str | None = Field(None, description="of the file's content (None for a webcam): which file this "
                               "report is of, and what `analyze --resume` checks")


class AnalysisModel(BaseModel):
    model: str
    model_created: str = Field("", description="when the model's weights were made: its version")
    model_classes: list[str]
    detector: str
    options: dict
    report_options: dict = Field(default_factory=dict, description="how the report was summarised (ReportOptions)")
    sample_fps: float | None
    frames_analysed: int
    seconds: float
    processing_fps: float
    emoscope_version: str


class CompletenessModel(BaseModel):
    complete: bool = Field(description="every frame the container counts (up to --max-seconds) was decoded")
    frames_expected: int | None = Field(description="frames the container counts; None when it does not say")
    frames_decoded: int = Field(description="source frames decoded, or passed over by --fps sampling")
    skipped: list[tuple[int, int]] = Field(description="(first, last) frames that could not be decoded; the "
                                           "analysis resumed after them")
    missing_at_end: int = Field(description="frames counted after the last one that could be decoded")


class Report(BaseModel):
    schema_version: int = REPORT_SCHEMA_VERSION
    created: str
    metadata: dict[str, str] = Field(default_factory=dict, description="user-supplied, copied as given")
    video: VideoModel
    analysis: AnalysisModel
    face_visible_share: float
    first_face_s: float | None
    people: list[PersonReport]
    crowd_alerts: list[dict] = Field(default_factory=list, description="crowd panic alerts, when panic was scored")
    notes: list[str] = Field(default_factory=list)
    completeness: CompletenessModel | None = Field(None, description="None for a live source (webcam)")
