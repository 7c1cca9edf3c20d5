"""`emoscope serve` and `emoscope bench serve` from the command line: no flags on a fresh folder
prints a one-time link to set the first admin's password, then serves the dashboard; refusals are one `error:` line that leaves
nothing behind."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import httpx
from helpers import run_emoscope

from web.support import free_port


def test_serve_with_no_flags_prints_a_one_time_link_to_set_the_first_admin(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "EMOSCOPE_TOKEN"}
    process = subprocess.Popen([sys.executable, "-m", "emoscope", "serve", "--port", str(port)], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                               start_new_session=True)
    try:
        line = process.stdout.readline()
        link = re.search(r"http://localhost:\d+/setup\?code=\S+", line)
        assert link and "no admin yet" in line, line
        url = link.group(0).replace("localhost", "127.0.0.1")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        with httpx.Client() as client:
            assert client.get(f"http://127.0.0.1:{port}/v1/candidates").status_code == 401
            form = client.get(url)
            csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
            code = url.split("code=")[1]
            done = client.post(f"http://127.0.0.1:{port}/setup", follow_redirects=True, data={
                "code": code, "username": "admin", "password": "a long password", "again": "a long password",
                "csrf": csrf})
            assert done.status_code == 200 and "Add candidate" in done.text and "admin (admin)" in done.text
            client.cookies.clear()
            again = client.get(url)  # the link worked once
            assert again.status_code == 404
        assert (tmp_path / "emoscope-data" / "emoscope.db").is_file()
    finally:
        process.terminate()
        process.wait(timeout=30)
    # started again, an admin exists: the plain login address, no setup link
    process = subprocess.Popen([sys.executable, "-m", "emoscope", "serve", "--port", str(port)], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                               start_new_session=True)
    try:
        assert process.stdout.readline().strip() == f"emoscope serve: http://localhost:{port}/login"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_serve_refusals_are_one_error_line_and_create_nothing(tmp_path):
    env = {"EMOSCOPE_TOKEN": ""}
    for args, message in ((["--host", "0.0.0.0"], "--token"), (["--model", "nope"], "unknown model"),
                          (["--frames", "xml"], "unknown frame table format")):
        result = run_emoscope("serve", *args, cwd=tmp_path, env=env, timeout=60)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], (args, result.stderr)
    assert not any(tmp_path.iterdir())


def test_bench_serve_writes_its_measurements(tmp_path):
    out = tmp_path / "serve.json"
    result = run_emoscope("bench", "serve", "--requests", "6", "--concurrency", "2", "--videos", "0",
                          "--workers", "1", "--out", out, timeout=120)
    assert result.returncode == 0, result.stderr
    measured = json.loads(out.read_text())
    assert measured["errors"] == 0 and measured["images"]["requests"] == 6
    assert measured["images"]["requests_per_s"] > 0 and measured["images"]["p50_ms"] <= measured["images"]["p99_ms"]
