"""A stalled upload, on a real socket against uvicorn (the test client reads a body whole before the app
sees it): a client that declares a video, sends its first kilobyte and then nothing is answered 408 with
one JSON line after the settings' ``upload_idle_s``, and leaves no row and no file."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx

from web.support import AUTH, SAMPLE, TOKEN, free_port


def _serve(app, port: int):
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    return server, thread


def test_a_stalled_upload_is_dropped_with_408_and_leaves_nothing(tmp_path):
    from emoscope.web.app import create_app
    from emoscope.web.settings import Settings

    data = tmp_path / "data"
    port = free_port()
    server, thread = _serve(create_app(Settings(data_dir=data, token=TOKEN, upload_idle_s=1.0)), port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=AUTH, timeout=30) as client:
            candidate_id = client.post("/v1/candidates", json={"name": "Ann Example"}).json()["id"]
            before = {p for p in data.rglob("*") if p.is_file()}
            body = (b'--x\r\nContent-Disposition: form-data; name="video"; filename="clip.mp4"\r\n'
                    b"Content-Type: video/mp4\r\n\r\n" + SAMPLE.read_bytes() + b"\r\n--x--\r\n")
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                sock.sendall(f"POST /v1/candidates/{candidate_id}/interviews HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             f"Authorization: Bearer {TOKEN}\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                             f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:1024])
                started = time.monotonic()
                answer = b""
                while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    answer += chunk
                waited = time.monotonic() - started
            head, _, payload = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 408"), answer[:300]
            error = json.loads(payload)
            assert list(error) == ["error"] and "upload stalled" in error["error"] and "\n" not in error["error"]
            assert 0.9 <= waited < 10, waited
            assert client.get("/v1/interviews").json() == [] and client.get("/v1/jobs").json() == []
            assert {p for p in data.rglob("*") if p.is_file()} == before
            assert client.get("/readyz").status_code == 200  # the server goes on
    finally:
        server.should_exit = True
        thread.join(timeout=30)
