"""The app's gate (host_tools.app.security): patient data only for the holder of the token,
changes only from the app's own pages, nothing for another Host, every patient-supplied
string escaped. (The token in no log: tests/app/test_browser.py reads the real server's
output.)"""

from __future__ import annotations

from tests.app.conftest import ORIGIN, PORT, client_for


def test_no_token_no_page(app_state):
    anon = client_for(app_state, logged_in=False)
    for path in ("/", "/dowel", "/patients/P-1", "/patients/P-1/report.pdf", "/static/app.js"):
        answer = anon.get(path)
        assert answer.status_code == 403, path
        assert "token" in answer.text and "P-1" not in answer.text


def test_wrong_token_refused_right_one_sets_a_cookie_and_leaves_the_address(app_state):
    anon = client_for(app_state, logged_in=False)
    assert anon.get("/?token=guess").status_code == 403
    answer = anon.get(f"/dowel?token={app_state.token}&port=x")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dowel?port=x"  # the token leaves the address bar
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"dowel_app_{PORT}=")
    # A localhost cookie goes to every port of the machine: it must not be the printed key.
    assert app_state.token not in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert anon.get("/").status_code == 200  # the cookie from now on
    stolen = client_for(app_state, logged_in=False)
    stolen.cookies.set(f"dowel_app_{PORT}", app_state.token)
    assert stolen.get("/").status_code == 403


def test_the_browsers_start_address_works_once(app_state):
    from starlette.testclient import TestClient

    from host_tools.app.server import create_app

    guard = create_app(app_state)
    once = guard.one_time()
    first = TestClient(guard, base_url=f"http://127.0.0.1:{PORT}", follow_redirects=False)
    assert first.get(f"/?token={once}").status_code == 303
    assert first.get("/").status_code == 200
    later = TestClient(guard, base_url=f"http://127.0.0.1:{PORT}", follow_redirects=False)
    assert later.get(f"/?token={once}").status_code == 403  # read off `ps` afterwards: spent
    assert later.get(f"/?token={app_state.token}").status_code == 303  # the printed one stays


def test_the_token_redirect_stays_on_the_app(app_state):
    anon = client_for(app_state, logged_in=False)
    answer = anon.get(f"http://127.0.0.1:{PORT}//evil.example/x?token={app_state.token}")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/evil.example/x"  # a path here, not another site


def test_a_page_of_another_local_server_is_refused(client):
    # SameSite ignores ports: a page on 127.0.0.1:47000 sends our cookie along. The browser
    # says where a request came from; only our own pages and a typed address get in.
    for where in ("same-site", "cross-site"):
        answer = client.get("/", headers={"sec-fetch-site": where})
        assert answer.status_code == 403 and "another web page" in answer.text
        form = {"patient": "P-0778"}
        answer = client.post("/patients", data=form, headers={**ORIGIN, "sec-fetch-site": where})
        assert answer.status_code == 403
    assert client.get("/", headers={"sec-fetch-site": "same-origin"}).status_code == 200
    assert client.get("/", headers={"sec-fetch-site": "none"}).status_code == 200
    assert "P-0778" not in client.get("/").text


def test_only_a_listed_port_is_ever_opened(client, app_state, one_dowel, tmp_path):
    # pyserial opens URLs and files as ports: spy://...?file= would truncate the file,
    # socket:// would connect out, /dev/tty would take the app's own terminal.
    victim = tmp_path / "victim.txt"
    victim.write_text("patient data")
    for port in (f"spy://x?file={victim}", "socket://127.0.0.1:9", "/dev/tty", str(victim), "\0"):
        page = client.get("/dowel", params={"port": port})
        assert page.status_code == 404 and "pick one from the list" in page.text, port
        answer = client.post("/dowel/selftest", data={"port": port}, headers=ORIGIN)
        assert answer.status_code == 400 and "pick one from the list" in answer.text
    client.post("/patients", data={"patient": "P-0779"}, headers=ORIGIN)
    answer = client.post(
        "/patients/P-0779/calibrate", data={"port": f"spy://x?file={victim}"}, headers=ORIGIN
    )
    assert answer.status_code == 400 and "pick one from the list" in answer.text
    assert app_state.jobs.holding(f"spy://x?file={victim}") is None
    assert not app_state.jobs._jobs  # not one job started
    assert victim.read_text() == "patient data"


def test_a_bad_patient_is_refused_before_the_dowel_is_touched(client, app_state, one_dowel):
    from tests.app.conftest import DOWEL_PORT

    for patient in ("%3Cimg%20src%3Dx%3E", "P-NOBODY"):
        answer = client.post(
            f"/patients/{patient}/calibrate", data={"port": DOWEL_PORT}, headers=ORIGIN
        )
        assert answer.status_code == 404, patient
        assert "<img" not in answer.text
    assert not app_state.jobs._jobs


def test_a_change_needs_the_apps_own_origin(client):
    form = {"patient": "P-0777", "prescription": "5x10/day"}
    assert client.post("/patients", data=form).status_code == 403  # no Origin, no Referer
    evil = {"origin": "http://evil.example"}
    answer = client.post("/patients", data=form, headers=evil)
    assert answer.status_code == 403 and "Origin" in answer.text
    answer = client.post("/patients", data=form, headers={"referer": "http://evil.example/x"})
    assert answer.status_code == 403
    assert "P-0777" not in client.get("/").text  # nothing was added
    answer = client.post("/patients", data=form, headers=ORIGIN)
    assert answer.status_code == 303 and answer.headers["location"] == "/patients/P-0777"
    assert "P-0777" in client.get("/").text


def test_another_host_is_refused(client, app_state):
    # A DNS-rebinding page reaches 127.0.0.1 under its own name: refuse it before the token.
    answer = client.get("/", headers={"host": f"evil.example:{PORT}"})
    assert answer.status_code == 421


def test_no_cors_and_strict_headers(client):
    answer = client.get("/", headers={"origin": "http://evil.example"})
    assert answer.status_code == 200
    assert not any(h.lower().startswith("access-control-") for h in answer.headers)
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"
    preflight = client.options("/patients", headers={"origin": "http://evil.example"})
    assert not any(h.lower().startswith("access-control-") for h in preflight.headers)


def test_a_script_tag_as_patient_id_is_refused_and_shown_escaped(client):
    script = "<script>alert(1)</script>"
    answer = client.post("/patients", data={"patient": script}, headers=ORIGIN)
    assert answer.status_code == 400
    assert script not in answer.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text
    assert "is not valid" in answer.text  # the one-line reason, the same as the CLI's
    # Kept in the form's field after the refusal: still text, never an attribute of its own.
    breakout = '"autofocus onfocus="alert(1)'
    answer = client.post("/patients", data={"patient": breakout}, headers=ORIGIN)
    assert answer.status_code == 400 and breakout not in answer.text
    assert 'value="&#34;autofocus onfocus=&#34;alert(1)"' in answer.text
    for path in ("/patients/%3Cscript%3Ealert(1)%3C%2Fscript%3E", "/patients/%3Cb%3E/report.pdf"):
        page = client.get(path)
        assert page.status_code == 404 and "<script>alert" not in page.text
        assert "<b>" not in page.text
