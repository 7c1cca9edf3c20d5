"""Multipart uploads read with a size limit that holds while the body streams in: the request's
receive channel counts the bytes and stops at the limit, so an over-size upload is refused (413)
after at most ``limit`` bytes, never after it has been stored; and it waits at most the settings'
``upload_idle_s`` for each piece, so a stalled client is dropped (408). Starlette's own parser does
the rest. :func:`check_video` decides by decoding whether an uploaded file is a video."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from fastapi import HTTPException, Request
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException

from emoscope.errors import DataError
from emoscope.files import atomic_output
from emoscope.video.source import VideoSource

MULTIPART_SLACK = 64 * 1024  # part headers and the other fields around the file


def too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"upload larger than the limit of {limit:,} bytes")


async def read_form(request: Request, limit: int) -> FormData:
    """The request's form, its file spooled to a temporary file; 413 past ``limit`` bytes of file."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise HTTPException(415, "expected multipart/form-data with the file in a part")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + MULTIPART_SLACK:
        raise too_large(limit)
    receive, seen, idle_s = request.receive, 0, request.app.state.settings.upload_idle_s

    async def counted():
        nonlocal seen
        try:
            message = await asyncio.wait_for(receive(), idle_s)
        except TimeoutError:
            raise HTTPException(408, f"upload stalled: nothing received for {idle_s:g} s") from None
        seen += len(message.get("body", b""))
        if seen > limit + MULTIPART_SLACK:
            raise too_large(limit)
        return message

    try:
        form = await Request(request.scope, counted).form(max_files=1, max_fields=10)
    except MultiPartException as exc:
        raise HTTPException(400, f"bad multipart body: {exc.message}") from None
    return form


def form_file(form: FormData, name: str, limit: int) -> UploadFile:
    upload = form.get(name)
    if not isinstance(upload, UploadFile):
        raise HTTPException(400, f"no file in the form field {name!r}")
    if upload.size is not None and upload.size > limit:
        raise too_large(limit)
    if not upload.size:
        raise HTTPException(400, "empty file (0 bytes)")
    return upload


def form_text(form: FormData, name: str, default: str | None = None, max_length: int = 100) -> str | None:
    value = form.get(name, default)
    if isinstance(value, UploadFile):
        raise HTTPException(400, f"{name}: expected text, got a file")
    if value is not None:
        value = value.strip()
        if not value or len(value) > max_length or not value.isprintable():
            raise HTTPException(400, f"{name}: expected 1-{max_length} printable characters")
    return value


def save(upload: UploadFile, path: Path) -> Path:
    """Copy the spooled upload to ``path`` (atomically: a cut-off copy never sits under the name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    upload.file.seek(0)
    with atomic_output(path) as temporary, temporary.open("wb") as out:
        shutil.copyfileobj(upload.file, out, 1 << 20)
    return path


def check_video(path: Path) -> None:
    """The decoder must open the file and decode a frame: its content decides, not its name."""
    try:
        with VideoSource(path, prefetch=0) as video:
            if next(iter(video), None) is None:
                raise DataError("no frame could be decoded")
    except DataError as exc:
        raise HTTPException(400, f"not a readable video: {str(exc).removeprefix(f'{path}: ')}") from None
