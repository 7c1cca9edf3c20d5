"""The web app's settings: one pydantic model, filled by `emoscope serve` flags (or by tests)."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from emoscope.errors import EmoscopeError

TOKEN_ENV = "EMOSCOPE_TOKEN"
MiB = 1 << 20


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data_dir: Path = Field(Path("emoscope-data"), description="database (SQLite default), results and uploads")
    database_url: str | None = Field(None, description="SQLAlchemy URL, e.g. postgresql://user@host/db; "
                                     "default sqlite:///<data_dir>/emoscope.db")
    host: str = "127.0.0.1"
    token: str | None = Field(default_factory=lambda: os.environ.get(TOKEN_ENV) or None,
                              description="API token; required when host is not loopback")
    workers: int = Field(1, ge=1, le=64, description="video analyses running at once, one process (or Ray task) each")
    engine: str = Field("local", pattern="^(local|ray)$", description="local (worker processes) | ray (Ray tasks)")
    ray_address: str | None = Field(None, description="with engine ray: auto | ray://HOST:10001 (default: start "
                                    "a local Ray)")
    max_queue: int = Field(8, ge=1, description="jobs waiting beyond the running ones; more answer 429")
    keep_videos: bool = Field(False, description="keep uploaded videos after analysis (default: delete)")
    retention_days: float | None = Field(None, gt=0, description="delete interviews older than this")
    max_video_bytes: int = Field(2048 * MiB, ge=1)
    max_image_bytes: int = Field(20 * MiB, ge=1)
    upload_idle_s: float = Field(60.0, gt=0, description="an upload that sends nothing for this long is dropped "
                                 "(408), so a stalled client does not hold its connection for ever")
    video_model: str | None = Field(None, description="default model for videos (default: the same as `emoscope analyze`)")
    image_model: str | None = Field(None, description="default model for photos (default: most accurate shipped)")
    detector: str = "mediapipe"
    blendshapes: bool = Field(False, description="add the 52 facial blendshape scores to every video's report")
    sample_fps: float | None = Field(None, gt=0, description="analyse about this many frames per second")
    max_seconds: float | None = Field(None, gt=0, description="analyse at most this much of each video")
    frames_format: str = Field("csv", pattern="^(csv|parquet)$")

    @field_validator("token")
    @classmethod
    def _no_empty_token(cls, token: str | None) -> str | None:
        """An empty token (e.g. ``EMOSCOPE_TOKEN=``) is no token: an empty cookie must never match it."""
        if token is not None and not token.strip():
            return None
        if token is not None and len(token) < 8:
            raise ValueError("a token needs at least 8 characters")
        return token

    @property
    def database_exists(self) -> bool:
        """A database server is named, or the default SQLite file is there already."""
        return self.database_url is not None or (self.data_dir / "emoscope.db").exists()

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'emoscope.db').absolute()}"

    def check(self) -> Settings:
        """Refuse a server reachable from other machines without a token, and a Ray address without Ray."""
        if self.ray_address is not None and self.engine != "ray":
            raise EmoscopeError("--address is for --engine ray")
        if self.token is None and not is_loopback(self.host):
            raise EmoscopeError(f"--host {self.host} is reachable from other machines: set --token "
                                f"(or ${TOKEN_ENV})")
        return self


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything
