"""The desktop app's remembered choices: a small JSON file (``~/.config/emoscope/gui.json``, or
``$EMOSCOPE_GUI_SETTINGS``). A missing or unreadable file gives the defaults: settings must never keep
the app from opening."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from emoscope.files import write_text_atomic

SETTINGS_ENV = "EMOSCOPE_GUI_SETTINGS"


class GuiSettings(BaseModel):
    model_config = ConfigDict(extra="ignore", protected_namespaces=())  # a newer app's extra keys are harmless

    model: str = "fer-fast"
    detector: str = "mediapipe"
    view: Literal["7", "5"] = Field("7", description="show 7 classes or the real-time study's 5")
    webcam: int = Field(0, ge=0)
    gestures: bool = False
    speech: bool = False
    out_dir: str = Field("runs/gui", description="where recordings and snapshots go")


def settings_path() -> Path:
    return Path(os.environ.get(SETTINGS_ENV) or Path.home() / ".config" / "emoscope" / "gui.json")


def load_settings(path: Path | None = None) -> GuiSettings:
    path = path or settings_path()
    try:
        return GuiSettings.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError):
        return GuiSettings()


def save_settings(settings: GuiSettings, path: Path | None = None) -> Path:
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_text_atomic(path, settings.model_dump_json(indent=2))
