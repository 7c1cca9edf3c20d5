"""The dashboard's pages: login (form, ``?token=`` link, no open redirect), and every page rendered
from a finished interview (profile, report page, comparison) with the engine's HTML embedded."""

from __future__ import annotations

from web.logins import PASSWORD, add_user, log_in
from web.support import AUTH, TOKEN, Server, start_server


def test_pages_need_a_login_and_the_login_sets_a_lax_http_only_cookie(tmp_path):
    client, _ = start_server(tmp_path, None)
    with client:
        add_user(client.app, "ann", "analyst")
        page = client.get("/", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login?next=/"
        login = client.get("/login").text
        assert "Log in" in login and 'name="username"' in login
        assert "Article 5(1)(f)" in login and "not a verdict" in login  # the lawful-use notice on every page
        wrong = log_in(client, "ann", "not the password")
        assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
        unknown = log_in(client, "nobody")
        assert unknown.status_code == 401 and "Wrong username or password" in unknown.text  # the same answer
        no_csrf = client.post("/login", data={"username": "ann", "password": PASSWORD}, follow_redirects=False)
        assert no_csrf.status_code == 403
        for evil in ("//evil.example/", "https://evil.example/", "/\\evil"):
            right = log_in(client, "ann", next_url=evil)
            assert right.status_code == 303 and right.headers["location"] == "/"
        cookie = right.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=43200" in cookie
        assert "Candidates" in client.get("/").text  # the cookie is kept by the client now
        assert client.get("/v1/candidates").status_code == 200  # the API accepts the cookie too
        client.cookies.clear()
        link = client.get(f"/login?token={TOKEN}&next=/", follow_redirects=False)  # the --token link, for scripts
        assert link.status_code == 303 and link.headers["location"] == "/"
        assert "service token (admin)" in client.get("/").text
        client.cookies.clear()
        assert client.get("/login?token=wrong-token", follow_redirects=False).status_code == 401


def test_profile_report_and_comparison_pages(tmp_path):
    client, settings = start_server(tmp_path, None)
    with client:
        server = Server(client, settings, settings.data_dir)
        candidates = [server.create_candidate(name) for name in ("Ann <b>Example</b>", "Bob Other")]
        interviews = []
        for candidate_id in candidates:
            interview = server.upload(candidate_id, question="q2").json()
            server.wait(interview["job"]["id"])
            interviews.append(interview)
        index = client.get("/", headers=AUTH).text
        assert "Ann &lt;b&gt;Example&lt;/b&gt;" in index and "<b>Example" not in index  # escaped
        profile = client.get(f"/candidates/{candidates[0]}", headers=AUTH).text
        for row in ("First", "First-Mid", "Mid", "Mid-Last", "Last", "blinks", "face touches", "gaze",
                    "transitions / min", "first expression"):
            assert f"<th>{row}</th>" in profile
        assert f"/v1/interviews/{interviews[0]['id']}/charts/interview.person1.intervals.png" in profile
        report = client.get(f"/interviews/{interviews[0]['id']}", headers=AUTH).text
        assert f'src="/v1/interviews/{interviews[0]["id"]}/report.html"' in report
        assert f'href="/v1/interviews/{interviews[0]["id"]}/report"' in report
        compare = client.get("/compare", params={"question": "q2"}, headers=AUTH).text
        assert "Bob Other" in compare and compare.count("intervals.png") == 2
        assert client.get("/candidates/unknown", headers=AUTH).status_code == 404


def test_an_unexpected_error_is_one_json_line_too(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    import emoscope.web.routes.reports as reports
    from emoscope.web.app import create_app
    from emoscope.web.settings import Settings

    settings = Settings(data_dir=tmp_path / "data", token=TOKEN)
    monkeypatch.setattr(reports, "comparison", lambda svc, question: 1 / 0)  # a bug somewhere below a route
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.get("/v1/compare", params={"question": "q1"}, headers=AUTH)
        assert response.status_code == 500 and response.json() == {"error": "internal error: ZeroDivisionError"}
        assert client.put("/v1/candidates", headers=AUTH).json() == {"error": "Method Not Allowed"}
