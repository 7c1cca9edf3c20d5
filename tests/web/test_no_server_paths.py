"""What an analyst sees never shows where the server keeps its files: every GET route of the app (walked
from the app object, so new routes are covered), with real ids of a finished interview and with unknown
ones, pages and JSON alike, holds neither the data folder's absolute path nor the test's folder."""

from __future__ import annotations

import uuid

from web.app_routes import app_routes
from web.support import AUTH


def test_no_page_or_json_an_analyst_gets_names_a_server_path(make_server, tmp_path):
    server = make_server(keep_videos=True)  # the video stays in the folder: its path must not leak either
    candidate_id = server.create_candidate()
    interview = server.upload(candidate_id, question="q2").json()
    assert server.wait(interview["job"]["id"])["state"] == "done"
    chart = server.client.get(f"/v1/interviews/{interview['id']}/charts", headers=AUTH).json()[0]
    report = server.client.get(f"/v1/interviews/{interview['id']}/report", headers=AUTH).json()
    assert report["video"]["source"] == "upload.video"  # the video's own name, not the server's path to it

    secrets = {str(server.data_dir.absolute()), str(server.data_dir.resolve()), str(tmp_path)}
    real = {"candidate_id": candidate_id, "interview_id": interview["id"], "job_id": interview["job"]["id"],
            "name": chart}
    unknown = {"*": str(uuid.uuid4())}
    seen = 0
    for route in app_routes(server.client.app):
        if "GET" not in route.methods:
            continue
        for values in (real, unknown):
            response = server.client.get(route.url(values), headers=AUTH, params={"question": "q2"})
            assert response.status_code < 500, (route.path, response.text)
            text = response.content.decode("utf-8", errors="replace")
            assert not [secret for secret in secrets if secret in text], (route.path, values)
            seen += 1
    assert seen >= 40  # every GET route, twice
