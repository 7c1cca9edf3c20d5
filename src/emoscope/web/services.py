"""The services one app holds (database sessions, file storage, job runner, photo analyser, templates),
shared by :mod:`emoscope.web.app`, which makes them, and the routes, which use them."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.templating import Jinja2Templates

from emoscope.web.images import ImageAnalyzer
from emoscope.web.jobs import JobRunner
from emoscope.web.settings import Settings
from emoscope.web.storage import Storage


@dataclass
class Services:
    """What the routes use, one per app (``request.app.state.services``)."""

    settings: Settings
    sessions: object
    storage: Storage
    runner: JobRunner
    images: ImageAnalyzer
    templates: Jinja2Templates


def services(request: Request) -> Services:
    return request.app.state.services
