"""Hostile uploads, beyond the bad files of test_api.py: a declared length far beyond the limit (refused
before a byte is read), two files in one form, too many fields, a truncated video, a photo named .mp4, a
decompression-bomb PNG on /v1/images:analyze (refused from its header, before decoding), and twenty
uploads at once against a small queue. Each refusal is one line of JSON with a 4xx, and leaves no file
(not even in the upload folder's tmp) and no row; every accepted job finishes."""

from __future__ import annotations

import struct
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import cv2
import numpy as np

from web.support import AUTH, SAMPLE
from web.test_api import one_line_error, rows


def bomb_png(side: int) -> bytes:
    """A side x side 1-bit PNG, all zeros: a few kilobytes on the wire, side² pixels decoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\0" * (1 + (side + 7) // 8)  # filter byte, then the packed bits
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", data) + chunk(b"IEND", b""))


def test_hostile_uploads_are_one_json_line_and_leave_nothing(make_server):
    sample = SAMPLE.read_bytes()
    server = make_server(max_video_bytes=len(sample) + 1000, max_image_bytes=1_000_000)
    candidate_id = server.create_candidate()
    url = f"/v1/candidates/{candidate_id}/interviews"
    before = server.files()
    png = cv2.imencode(".png", np.full((64, 64, 3), 128, np.uint8))[1].tobytes()
    clip = sample[: len(sample) // 10]  # two of them stay under the limit

    def post(path: str, **kwargs):
        return server.client.post(path, headers={**AUTH, **kwargs.pop("headers", {})}, **kwargs)

    cases = [
        # a declared length far beyond the limit: refused from the header, the 10 bytes sent are never read
        (post(url, headers={"content-type": "multipart/form-data; boundary=x", "content-length": str(1 << 40)},
              content=b"0123456789"), 413, "larger than the limit"),
        (post("/v1/images:analyze", headers={"content-type": "multipart/form-data; boundary=x",
                                             "content-length": str(10 << 30)}, content=b"--x--"),
         413, "larger than the limit"),
        # two files in one form, under one name or two
        (post(url, data={"question": "q1"}, files=[("video", ("a.mp4", clip, "video/mp4")),
                                                   ("video", ("b.mp4", clip, "video/mp4"))]), 400, "Too many files"),
        (post(url, data={"question": "q1"}, files=[("video", ("a.mp4", clip, "video/mp4")),
                                                   ("other", ("b.txt", b"x", "text/plain"))]), 400, "Too many files"),
        (post(url, data={f"field{i}": "x" for i in range(20)}, files={"video": ("a.mp4", clip)}),
         400, "Too many fields"),
        # a photo named .mp4, and a truncated video that stops before its first frame
        (server.upload(candidate_id, content=png, filename="photo.mp4"), 400, "PNG image, not a video"),
        (server.upload(candidate_id, content=sample[: len(sample) // 200]), 400, "not a readable video"),
        (server.upload(candidate_id, content=b""), 400, "empty file"),
        # a decompression bomb: 30000 x 30000 pixels (2.7 GB decoded) in a few kilobytes
        (post("/v1/images:analyze", files={"image": ("bomb.png", bomb_png(30_000), "image/png")}),
         400, "image too large"),
        (post("/v1/images:analyze", files={"image": ("photo.png", png, "image/png"),
                                           "extra": ("photo2.png", png, "image/png")}), 400, "Too many files"),
    ]
    for number, (response, status, message) in enumerate(cases):
        assert message in one_line_error(response, status), number
        assert rows(server) == (0, 0), number
        assert server.files() == before, number  # not even a spooled upload left in tmp/
    assert len(bomb_png(30_000)) < 1_000_000  # it passed the byte limit: only the pixel count refused it


def test_twenty_parallel_uploads_against_a_small_queue(make_server):
    workers, max_queue, uploads = 1, 2, 20
    server = make_server(workers=workers, max_queue=max_queue, max_seconds=2.0)
    candidate_id = server.create_candidate()
    short = SAMPLE.read_bytes()[: SAMPLE.stat().st_size // 5]
    with ThreadPoolExecutor(uploads) as pool:
        responses = list(pool.map(lambda _: server.upload(candidate_id, content=short), range(uploads)))
    burst_ended = datetime.now(timezone.utc).replace(tzinfo=None)
    accepted = [r.json() for r in responses if r.status_code == 202]
    refused = [r for r in responses if r.status_code != 202]
    assert accepted and refused and len(accepted) + len(refused) == uploads
    for response in refused:
        assert "queue is full" in one_line_error(response, 429) and int(response.headers["retry-after"]) > 0
    # no job lost or stuck: each accepted one finishes, and no refused one has a row or a file
    jobs = [server.wait(interview["job"]["id"], timeout=300) for interview in accepted]
    assert [job["state"] for job in jobs] == ["done"] * len(accepted), jobs
    assert rows(server) == (len(accepted), len(accepted))
    # the bound held: beyond the running ones and those waiting, only places freed by finished jobs
    freed = sum(datetime.fromisoformat(job["finished_at"]) < burst_ended for job in jobs)
    assert len(accepted) <= workers + max_queue + freed, (len(accepted), freed)
    folders = {path.split("/")[2] for path in server.files()}
    assert folders == {interview["id"] for interview in accepted}
    assert not any(path.endswith("upload.video") for path in server.files())
    time.sleep(0.5)
    assert not any(path.startswith("tmp/") for path in server.files())
