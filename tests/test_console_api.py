"""The console's HTTP API on a real server: who may use it, what it never reveals, and that
every write is checked, atomic and backed up (a refused write leaves the file as it was)."""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ccr.config import list_backups
from ccr.logs import request_line
from tests.support.console_helpers import CLIENT_KEY, SECRET_KEY, ConsoleServer, write_config

pytestmark = pytest.mark.e2e

ROUTER_SCRIPT = '''
def router(req, config):
    text = str(req["body"]["messages"][-1]["content"])
    print("looked at", len(text), "characters")
    if "review" in text:
        return "fake,big"
    return None
'''

GET_ENDPOINTS = ("session", "overview", "providers", "routes", "config", "script", "usage",
                 "requests")


def base_config(**extra: Any) -> dict[str, Any]:
    return {
        "Providers": [{
            "name": "fake", "api_base_url": "http://127.0.0.1:9/v1/chat/completions",
            "api_key": SECRET_KEY, "models": ["small", "big"],
        }],
        "Router": {"default": "fake,small"},
        "LOG": False,
        **extra,
    }


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "ccr-home"


@pytest.fixture
def config_path(home: Path) -> Path:
    path = home / "config.json"
    (home / "custom_router.py").parent.mkdir(parents=True, exist_ok=True)
    (home / "custom_router.py").write_text(ROUTER_SCRIPT)
    write_config(path, base_config(CUSTOM_ROUTER_PATH=str(home / "custom_router.py")))
    return path


@pytest.fixture
def server(config_path: Path, home: Path) -> Iterator[ConsoleServer]:
    with ConsoleServer(config_path, home) as running:
        yield running


@pytest.fixture
def session(server: ConsoleServer) -> Iterator[tuple[httpx.Client, str]]:
    client, csrf = server.login()
    yield client, csrf
    client.close()


def change(session: tuple[httpx.Client, str], method: str, path: str,
           body: Any = None) -> httpx.Response:
    client, csrf = session
    return client.request(method, path, json=body, headers={"x-csrf-token": csrf})


# -- who may use it ----------------------------------------------------------------------------


def test_the_page_is_served_with_a_strict_content_security_policy(server: ConsoleServer) -> None:
    page = httpx.get(f"{server.base_url}/ui/", trust_env=False)
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"


def test_the_shipped_html_has_no_inline_script_or_style(server: ConsoleServer) -> None:
    html = httpx.get(f"{server.base_url}/ui/", trust_env=False).text
    assert "<script" in html
    for tag in html.split("<script")[1:]:
        assert 'src="' in tag.split(">")[0]
        assert tag.split(">", 1)[1].startswith("</script")
    assert "style=" not in html and "<style" not in html and "onclick" not in html


def test_slash_less_address_redirects_to_the_page(server: ConsoleServer) -> None:
    answer = httpx.get(f"{server.base_url}/ui", trust_env=False)
    assert answer.status_code == 302 and answer.headers["location"] == "/ui/"


@pytest.mark.parametrize("endpoint", GET_ENDPOINTS)
def test_every_api_endpoint_needs_a_login(server: ConsoleServer, endpoint: str) -> None:
    with server.client() as client:
        answer = client.get(endpoint)
    assert answer.status_code == 401
    assert answer.json()["error"]["type"] == "authentication_error"


def test_a_wrong_token_does_not_log_in(server: ConsoleServer) -> None:
    with server.client() as client:
        answer = client.post("login", json={"token": "x" * 43})
        assert answer.status_code == 401
        assert "set-cookie" not in answer.headers
        assert client.get("overview").status_code == 401


def test_the_clients_apikey_is_not_the_admin_token(config_path: Path, home: Path) -> None:
    write_config(config_path, base_config(APIKEY=CLIENT_KEY))
    with ConsoleServer(config_path, home) as server, server.client() as client:
        assert client.post("login", json={"token": CLIENT_KEY}).status_code == 401
        assert client.get("overview", headers={"x-api-key": CLIENT_KEY}).status_code == 401
        page = httpx.get(f"{server.base_url}/ui/", trust_env=False)
        assert page.status_code == 200  # the console has its own login, not the client key


def test_login_sets_an_httponly_same_site_strict_cookie_scoped_to_the_console(
        server: ConsoleServer) -> None:
    with server.client() as client:
        answer = client.post("login", json={"token": server.token})
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/ui" in cookie
    assert answer.json()["csrf"]


def test_login_only_takes_json(server: ConsoleServer) -> None:
    with server.client() as client:
        answer = client.post("login", data={"token": server.token})
    assert answer.status_code == 415


def test_the_token_file_is_owner_only(server: ConsoleServer, home: Path) -> None:
    server.token  # noqa: B018 - generated on first use
    assert stat.S_IMODE((home / "ui-token").stat().st_mode) == 0o600


def test_a_change_without_the_csrf_token_is_refused_and_changes_nothing(
        session: tuple[httpx.Client, str], config_path: Path) -> None:
    client, _ = session
    before = config_path.read_bytes()
    answer = client.put("routes", json={"Router": {"default": "fake,big"}})
    assert answer.status_code == 403
    assert "CSRF" in answer.json()["error"]["message"]
    assert config_path.read_bytes() == before


def test_a_change_with_a_wrong_csrf_token_is_refused_and_changes_nothing(
        session: tuple[httpx.Client, str], config_path: Path) -> None:
    client, csrf = session
    before = config_path.read_bytes()
    answer = client.put("routes", json={"Router": {"default": "fake,big"}},
                        headers={"x-csrf-token": csrf[:-2] + "xx"})
    assert answer.status_code == 403
    assert config_path.read_bytes() == before
    assert list_backups(config_path) == []


def test_a_cross_origin_change_is_refused(session: tuple[httpx.Client, str],
                                          config_path: Path) -> None:
    client, csrf = session
    answer = client.put("routes", json={"Router": {"default": "fake,big"}},
                        headers={"x-csrf-token": csrf, "origin": "http://evil.example"})
    assert answer.status_code == 403


def test_a_non_loopback_host_header_is_refused_without_an_apikey(server: ConsoleServer) -> None:
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 gets nothing."""
    answer = httpx.get(f"{server.base_url}/ui/", headers={"host": "evil.example:3456"},
                       trust_env=False)
    assert answer.status_code == 403


def test_a_script_may_use_the_admin_token_as_a_bearer(server: ConsoleServer) -> None:
    with server.client(headers={"authorization": f"Bearer {server.token}"}) as client:
        assert client.get("overview").status_code == 200
    with server.client(headers={"authorization": "Bearer wrong"}) as client:
        assert client.get("overview").status_code == 401


def test_a_rotated_token_ends_open_sessions(server: ConsoleServer,
                                            session: tuple[httpx.Client, str]) -> None:
    from ccr.ui.token import rotate_token

    client, _ = session
    assert client.get("overview").status_code == 200
    rotate_token(server.state.home)
    assert client.get("overview").status_code == 401


def test_logout_ends_the_session(session: tuple[httpx.Client, str]) -> None:
    assert change(session, "POST", "logout", {}).status_code == 200
    assert session[0].get("overview").status_code == 401


@pytest.mark.parametrize("name", ["../config.json", "..%2fconfig.json", "%2e%2e/ui-token",
                                  "/etc/passwd", "pages/../../config.json"])
def test_static_files_are_only_the_shipped_ones(server: ConsoleServer, name: str) -> None:
    answer = httpx.get(f"{server.base_url}/ui/static/{name}", trust_env=False)
    assert answer.status_code == 404
    assert SECRET_KEY not in answer.text


# -- keys never leave ----------------------------------------------------------------------


def test_no_endpoint_answer_contains_a_provider_key(session: tuple[httpx.Client, str],
                                                    server: ConsoleServer,
                                                    config_path: Path) -> None:
    client, _ = session
    answers = [client.get(endpoint) for endpoint in GET_ENDPOINTS]
    answers.append(change(session, "POST", "config/check",
                          {"text": config_path.read_text(), "version": None}))
    answers.append(change(session, "PUT", "routes", {"Router": {"default": "fake,big"}}))
    answers.append(change(session, "POST", "routes/check", {"Router": {"default": "x"}}))
    backup = list_backups(config_path)[-1].name
    answers.append(client.get(f"config/backups/{backup}"))
    for answer in answers:
        assert answer.status_code in (200, 400), answer.text
        assert SECRET_KEY not in answer.text
        assert SECRET_KEY[-12:] not in answer.text


def test_a_stored_key_is_shown_as_set_with_its_last_four_characters(
        session: tuple[httpx.Client, str]) -> None:
    provider = session[0].get("providers").json()["providers"][0]
    assert provider["key"]["text"] == f"set …{SECRET_KEY[-4:]}"
    assert provider["key"]["kind"] == "literal"


def test_a_variable_key_is_shown_by_name_and_whether_it_is_set(
        config_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSOLE_TEST_KEY", SECRET_KEY)
    config = base_config()
    config["Providers"][0]["api_key"] = "$CONSOLE_TEST_KEY"
    write_config(config_path, config)
    with ConsoleServer(config_path, home) as server:
        client, _ = server.login()
        answer = client.get("providers")
    key = answer.json()["providers"][0]["key"]
    assert key["variable"] == "CONSOLE_TEST_KEY" and key["set"] is True
    assert SECRET_KEY not in answer.text


def test_the_config_editor_shows_placeholders_instead_of_keys(
        session: tuple[httpx.Client, str]) -> None:
    text = session[0].get("config").json()["text"]
    assert SECRET_KEY not in text
    assert f"***secret 1 …{SECRET_KEY[-4:]}***" in text


# -- providers and routes --------------------------------------------------------------------


def test_adding_a_provider_writes_it_with_its_key_and_reloads(
        session: tuple[httpx.Client, str], server: ConsoleServer, config_path: Path) -> None:
    answer = change(session, "POST", "providers", {
        "name": "other", "api_base_url": "http://127.0.0.1:9/v1/chat/completions",
        "api_key": "sk-other-key-123456789", "models": "m1, m2",
    })
    assert answer.status_code == 200, answer.text
    assert answer.json()["reload"]["ok"] is True
    written = json.loads(config_path.read_text())["Providers"][1]
    assert written == {"name": "other", "api_base_url": "http://127.0.0.1:9/v1/chat/completions",
                       "api_key": "sk-other-key-123456789", "models": ["m1", "m2"]}
    assert "other,m2" in server.state.config.routes()
    assert len(list_backups(config_path)) == 1


def test_editing_a_provider_without_a_key_keeps_the_stored_one(
        session: tuple[httpx.Client, str], config_path: Path) -> None:
    answer = change(session, "PUT", "providers/fake", {
        "name": "fake", "api_base_url": "http://127.0.0.1:9/v1/chat/completions",
        "api_key": "", "models": ["small", "big", "huge"],
    })
    assert answer.status_code == 200, answer.text
    written = json.loads(config_path.read_text())["Providers"][0]
    assert written["api_key"] == SECRET_KEY and written["models"][-1] == "huge"


def test_removing_a_provider_the_router_uses_is_refused_with_the_loaders_message(
        session: tuple[httpx.Client, str], config_path: Path) -> None:
    before = config_path.read_bytes()
    answer = change(session, "DELETE", "providers/fake")
    assert answer.status_code == 400
    messages = [p["message"] for p in answer.json()["problems"]]
    assert any("provider \"fake\" is not configured" in m for m in messages), messages
    assert config_path.read_bytes() == before and list_backups(config_path) == []


def test_router_check_answers_with_the_same_message_as_the_cli(
        session: tuple[httpx.Client, str]) -> None:
    answer = change(session, "POST", "routes/check", {"Router": {"default": "fake"}}).json()
    assert answer["ok"] is False
    assert answer["problems"] == [{"path": "Router.default", "message": (
        '"fake" is not a "provider,model" route (e.g. "fake,small")')}]


def test_an_invalid_router_is_not_saved(session: tuple[httpx.Client, str],
                                        config_path: Path) -> None:
    before = config_path.read_bytes()
    answer = change(session, "PUT", "routes", {"Router": {"default": "nope,model"}})
    assert answer.status_code == 400
    assert answer.json()["problems"][0]["path"] == "Router.default"
    assert config_path.read_bytes() == before


# -- the config file -------------------------------------------------------------------------


def test_saving_the_text_keeps_comments_and_puts_the_keys_back(
        session: tuple[httpx.Client, str], config_path: Path, server: ConsoleServer) -> None:
    shown = session[0].get("config").json()
    edited = shown["text"].replace('"default": "fake,small"', '"default": "fake,big"', 1)
    edited = "// my comment\n" + edited
    answer = change(session, "PUT", "config", {"text": edited, "version": shown["version"]})
    assert answer.status_code == 200, answer.text
    on_disk = config_path.read_text()
    assert on_disk.startswith("// my comment") and SECRET_KEY in on_disk
    assert server.state.config.router.default == "fake,big"
    assert answer.json()["reload"] == {"ok": True, "error": None, "reloads": 1}


def test_an_invalid_text_shows_the_error_and_leaves_the_file_untouched(
        session: tuple[httpx.Client, str], config_path: Path) -> None:
    before = config_path.read_bytes()
    shown = session[0].get("config").json()
    edited = shown["text"].replace('"default": "fake,small"', '"default": "fake,nope"', 1)
    check = change(session, "POST", "config/check", {"text": edited, "version": shown["version"]})
    assert check.json()["ok"] is False
    assert "Router.default" in check.json()["problems"][0]["path"]
    assert "+" in check.json()["diff"] and '"fake,nope"' in check.json()["diff"]
    answer = change(session, "PUT", "config", {"text": edited, "version": shown["version"]})
    assert answer.status_code == 400
    assert config_path.read_bytes() == before and list_backups(config_path) == []


def test_a_broken_placeholder_is_refused(session: tuple[httpx.Client, str],
                                         config_path: Path) -> None:
    before = config_path.read_bytes()
    shown = session[0].get("config").json()
    edited = shown["text"].replace("***secret 1", "***secret 1x", 1)
    answer = change(session, "PUT", "config", {"text": edited, "version": shown["version"]})
    assert answer.status_code == 400 and "placeholder" in answer.json()["error"]["message"]
    assert config_path.read_bytes() == before


def test_a_save_based_on_an_old_version_of_the_file_is_refused(
        session: tuple[httpx.Client, str], config_path: Path) -> None:
    shown = session[0].get("config").json()
    write_config(config_path, base_config(LOG_LEVEL="debug"))
    changed = config_path.read_bytes()
    answer = change(session, "PUT", "config", {"text": shown["text"], "version": shown["version"]})
    assert answer.status_code == 409
    assert config_path.read_bytes() == changed


def test_an_empty_config_is_never_written(session: tuple[httpx.Client, str],
                                          config_path: Path) -> None:
    before = config_path.read_bytes()
    version = session[0].get("config").json()["version"]
    answer = change(session, "PUT", "config", {"text": "  \n", "version": version})
    assert answer.status_code == 400
    assert config_path.read_bytes() == before


def test_a_backup_can_be_viewed_and_restored(session: tuple[httpx.Client, str],
                                             config_path: Path, server: ConsoleServer) -> None:
    original = config_path.read_bytes()
    assert change(session, "PUT", "routes", {"Router": {"default": "fake,big"}}).status_code == 200
    backups = session[0].get("config").json()["backups"]
    assert len(backups) == 1
    view = session[0].get(f"config/backups/{backups[0]['name']}").json()
    assert '"fake,small"' in view["diff"] and SECRET_KEY not in json.dumps(view)
    answer = change(session, "POST", "config/restore", {"name": backups[0]["name"]})
    assert answer.status_code == 200, answer.text
    assert config_path.read_bytes() == original
    assert server.state.config.router.default == "fake,small"


def test_only_listed_backups_can_be_restored(session: tuple[httpx.Client, str],
                                             config_path: Path) -> None:
    before = config_path.read_bytes()
    for name in ("../ui-token", "config.json", "/etc/passwd"):
        answer = change(session, "POST", "config/restore", {"name": name})
        assert answer.status_code == 404
    assert config_path.read_bytes() == before


# -- the router script -------------------------------------------------------------------------


def test_try_it_shows_the_decision_of_the_running_script(
        session: tuple[httpx.Client, str]) -> None:
    request = {"model": "claude-sonnet-4-5", "max_tokens": 10,
               "messages": [{"role": "user", "content": "please review this"}]}
    answer = change(session, "POST", "script/try", {"request": request}).json()
    assert answer["route"] == "fake,big" and answer["rule"] == "custom"
    assert answer["explanation"] == "the router script returned fake,big"
    assert answer["prints"] == "looked at 18 characters\n"
    assert answer["script"] == "saved" and answer["script_ms"] is not None


def test_try_it_routes_a_recorded_request_through_the_built_in_rules(
        session: tuple[httpx.Client, str]) -> None:
    recorded = {"method": "POST", "path": "/v1/messages?beta=true",
                "headers": {"x-api-key": "never-shown"},
                "body": {"model": "claude-haiku-4-5", "max_tokens": 10,
                         "messages": [{"role": "user", "content": "hi"}]}}
    answer = change(session, "POST", "script/try", {"request": recorded}).json()
    assert answer["rule"] == "default" and answer["route"] == "fake,small"
    assert answer["explanation"] == "no other rule applied → Router.default"
    verdicts = {v["rule"]: v for v in answer["rules"]}  # as ccr route --explain lists them
    assert verdicts["default"]["route"] == "fake,small" and verdicts["default"]["reason"]
    assert verdicts["background"]["route"] is None


def test_try_it_can_run_an_unsaved_draft(session: tuple[httpx.Client, str],
                                         config_path: Path) -> None:
    draft = "def router(req, config):\n    return 'fake,small'\n"
    request = {"model": "m", "messages": [{"role": "user", "content": "please review"}]}
    answer = change(session, "POST", "script/try", {"request": request, "draft": draft}).json()
    assert answer["route"] == "fake,small" and answer["script"] == "draft"


def test_try_it_reports_a_request_that_is_not_a_messages_call(
        session: tuple[httpx.Client, str]) -> None:
    answer = change(session, "POST", "script/try", {"request": {"model": "x"}}).json()
    assert answer["route"] is None and "no messages list" in answer["error"]


def test_a_script_that_does_not_load_is_not_saved(session: tuple[httpx.Client, str],
                                                  home: Path) -> None:
    before = (home / "custom_router.py").read_text()
    answer = change(session, "PUT", "script", {"text": "def router(req, config)\n  return 1\n"})
    assert answer.status_code == 400 and "not saved" in answer.json()["error"]["message"]
    assert (home / "custom_router.py").read_text() == before


def test_a_script_that_loads_is_saved_with_a_backup(session: tuple[httpx.Client, str],
                                                    home: Path) -> None:
    text = "def router(req, config):\n    return None\n"
    answer = change(session, "PUT", "script", {"text": text})
    assert answer.status_code == 200, answer.text
    assert (home / "custom_router.py").read_text() == text
    assert answer.json()["backup"].startswith("custom_router.py.")


# -- requests and usage ------------------------------------------------------------------------


def log_record(when: str, **fields: Any) -> str:
    return f"{when},123 INFO {request_line({'path': '/v1/messages', **fields})}\n"


def test_the_request_tail_reads_only_request_lines_of_the_ccr_log(
        session: tuple[httpx.Client, str], home: Path) -> None:
    log = home / "logs" / "ccr.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(
        "2026-12-06 07:00:00,001 INFO ccr listening on http://127.0.0.1:1\n"
        + log_record("2026-12-06 07:00:01", session="s1", rule="default", route="fake,small",
                     tokens=12, input=10, output=5, status=200, ms=3.5)
        + log_record("2026-12-06 07:00:02", session="s2", rule="think", route="fake,big",
                     error="upstream said no", status=429, ms=1.0))
    answer = session[0].get("requests").json()
    assert [(r["route"], r["status"]) for r in answer["rows"]] == [("fake,small", 200),
                                                                   ("fake,big", 429)]
    assert answer["rows"][1]["error"] == "upstream said no"
    errors = session[0].get("requests", params={"status": "error"}).json()["rows"]
    assert [r["session"] for r in errors] == ["s2"]
    cursor = answer["cursor"]
    with log.open("a") as f:
        f.write(log_record("2026-12-06 07:00:03", session="s3", route="fake,small", status=200))
    new = session[0].get("requests", params={"cursor": cursor}).json()
    assert [r["session"] for r in new["rows"]] == ["s3"]


def test_the_request_tail_ignores_any_path_it_is_given(session: tuple[httpx.Client, str],
                                                       home: Path) -> None:
    answer = session[0].get("requests", params={"file": "/etc/passwd", "path": "../config.json"})
    assert answer.json()["file"] == str(home / "logs" / "ccr.log")


def test_usage_without_a_ledger_comes_from_the_log_with_a_note(
        config_path: Path, home: Path) -> None:
    write_config(config_path, base_config(LEDGER={"enabled": False}))
    server = ConsoleServer(config_path, home).start()
    session = server.login()
    log = home / "logs" / "ccr.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(
        log_record("2026-12-05 10:00:00", route="fake,small", input=1000, output=100, status=200)
        + log_record("2026-12-06 10:00:00", route="fake,small", input=500, output=50, status=200)
        + log_record("2026-12-06 11:00:00", route="fake,big", input=10, output=1, status=200))
    answer = session[0].get("usage").json()
    assert answer["source"] == "log" and "No usage ledger (LEDGER is off)" in answer["note"]
    assert answer["route"][0] == {"key": "fake,small", "requests": 2, "input": 1500,
                                  "output": 150, "cache_read": 0, "tokens": 1650, "cost": None}
    assert [d["key"] for d in answer["day"]] == ["2026-12-05", "2026-12-06"]
    assert answer["provider"][0]["requests"] == 3
    session[0].close()
    server.stop()


def test_usage_comes_from_the_servers_ledger(config_path: Path, home: Path) -> None:
    from tests.support.fake_upstream import FakeUpstream

    with FakeUpstream() as fake:
        config = base_config()
        config["Providers"][0]["api_base_url"] = fake.chat_url
        write_config(config_path, config)
        with ConsoleServer(config_path, home) as server:
            client, _ = server.login()
            sent = httpx.post(f"{server.base_url}/v1/messages", trust_env=False, json={
                "model": "claude-sonnet-4-5", "max_tokens": 20,
                "messages": [{"role": "user", "content": "hi"}]})
            assert sent.status_code == 200, sent.text
            deadline = time.monotonic() + 5
            while True:  # the ledger writes its rows in the background
                answer = client.get("usage").json()
                if answer["route"] or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            client.close()
    assert answer["source"] == "ledger" and answer["note"] is None
    assert [(r["key"], r["requests"]) for r in answer["route"]] == [("fake,small", 1)]
    assert answer["provider"][0]["key"] == "fake" and answer["totals"]["requests"] == 1


def test_with_an_apikey_the_console_answers_to_any_host_name(config_path: Path,
                                                            home: Path) -> None:
    """Behind HOST 0.0.0.0 (which needs APIKEY) the page loads by the machine's name."""
    write_config(config_path, base_config(APIKEY=CLIENT_KEY))
    with ConsoleServer(config_path, home) as server:
        page = httpx.get(f"{server.base_url}/ui/", headers={"host": "devbox.lan:3456"},
                         trust_env=False)
    assert page.status_code == 200
    assert 'src="static/app.js"' in page.text  # relative: works under any host name


def test_a_body_that_is_not_json_is_a_clear_400(session: tuple[httpx.Client, str]) -> None:
    client, csrf = session
    answer = client.put("routes", content=b"{not json", headers={
        "x-csrf-token": csrf, "content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == "the request body must be a JSON object"
    assert "content-security-policy" in answer.headers


def test_fallback_lists_are_saved_from_the_routes_form(session: tuple[httpx.Client, str],
                                                       config_path: Path) -> None:
    answer = change(session, "PUT", "routes", {
        "Router": {"default": "fake,small"},
        "fallback": {"default": "fake,big, fake,small", "think": ""}})
    assert answer.status_code == 200, answer.text
    assert json.loads(config_path.read_text())["fallback"] == {"default": ["fake,big",
                                                                           "fake,small"]}
    shown = session[0].get("routes").json()
    assert shown["fallback"] == {"default": ["fake,big", "fake,small"]}
    change(session, "PUT", "routes", {"Router": {}, "fallback": {"default": ""}})
    assert "fallback" not in json.loads(config_path.read_text())


def test_a_fallback_list_for_an_unknown_rule_is_refused(session: tuple[httpx.Client, str],
                                                        config_path: Path) -> None:
    before = config_path.read_bytes()
    answer = change(session, "PUT", "routes", {"fallback": {"sometimes": "fake,big"}})
    assert answer.status_code == 400
    assert "unknown rule" in answer.json()["error"]["message"]
    assert config_path.read_bytes() == before


# -- project and session overrides -------------------------------------------------------------


def test_a_project_override_is_checked_and_saved_under_ccr_home(
        session: tuple[httpx.Client, str], home: Path) -> None:
    check = change(session, "POST", "overrides/check", {"Router": {"default": "fake,nope"}})
    assert check.json()["ok"] is False
    assert check.json()["problems"][0]["path"] == "Router.default"
    answer = change(session, "PUT", "overrides", {"project": "-home-me-work",
                                                   "Router": {"default": "fake,big"}})
    assert answer.status_code == 200, answer.text
    assert json.loads((home / "-home-me-work" / "config.json").read_text()) == {
        "Router": {"default": "fake,big"}}
    listed = session[0].get("routes").json()["overrides"]
    assert listed == [{"project": "-home-me-work", "session": None,
                       "router": {"default": "fake,big"}, "problems": []}]


def test_a_session_override_keeps_the_files_other_keys_and_can_be_removed(
        session: tuple[httpx.Client, str], home: Path) -> None:
    file = home / "proj" / "5f0c-session.json"
    file.parent.mkdir()
    file.write_text('{"note": "mine", "Router": {"default": "fake,small"}}')
    answer = change(session, "PUT", "overrides", {"project": "proj", "session": "5f0c-session",
                                                   "Router": {"think": "fake,big"}})
    assert answer.status_code == 200, answer.text
    assert json.loads(file.read_text()) == {"note": "mine", "Router": {"think": "fake,big"}}
    removed = change(session, "POST", "overrides/remove", {"project": "proj",
                                                            "session": "5f0c-session"})
    assert removed.status_code == 200 and not file.exists()
    assert removed.json()["backup"].startswith("5f0c-session.json.")


@pytest.mark.parametrize(("project", "session_id"), [
    ("..", None), ("../etc", None), ("logs", None), (".hidden", None), ("proj", "../x"),
    ("proj", "config"), ("a/b", None),
])
def test_an_override_outside_a_project_folder_is_refused(
        session: tuple[httpx.Client, str], home: Path, project: str,
        session_id: str | None) -> None:
    before = sorted(p.name for p in home.rglob("*"))
    answer = change(session, "PUT", "overrides", {"project": project, "session": session_id,
                                                   "Router": {"default": "fake,big"}})
    assert answer.status_code == 400
    assert sorted(p.name for p in home.rglob("*")) == before


def test_a_failed_reload_is_shown_without_the_keys_it_quotes(
        session: tuple[httpx.Client, str], config_path: Path, server: ConsoleServer) -> None:
    # not a list: the loader's message quotes the value, key and all
    write_config(config_path, {"Providers": {"api_key": SECRET_KEY}, "LOG": False})
    deadline = time.monotonic() + 5
    while server.state.reload_error is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert SECRET_KEY in server.state.reload_error
    answer = session[0].get("overview")
    assert answer.json()["reload_error"] and SECRET_KEY not in answer.text


def test_only_the_console_paths_skip_the_client_key(config_path: Path, home: Path) -> None:
    write_config(config_path, base_config(APIKEY=CLIENT_KEY))
    with ConsoleServer(config_path, home) as server:
        assert httpx.get(f"{server.base_url}/ui/", trust_env=False).status_code == 200
        for path in ("/uix", "/ui-token", "/v1/models"):
            answer = httpx.get(f"{server.base_url}{path}", trust_env=False)
            assert answer.status_code == 401, path


def test_a_recorded_request_can_be_loaded_and_tried(session: tuple[httpx.Client, str],
                                                    home: Path) -> None:
    folder = home / "records"
    folder.mkdir()
    (folder / "records-1.jsonl").write_text(json.dumps({
        "time": "2026-12-06T07:00:00+00:00", "session_id": "s1",
        "headers": {"x-claude-code-session-id": "s1", "x-api-key": "leaked-if-shown"},
        "body": {"model": "claude-sonnet-4-5", "messages": [
            {"role": "user", "content": "please review"}]},
        "decision": {"rule": "default", "route": "fake,small"},
        "outcome": {"status": 200}}) + "\n")
    listed = session[0].get("records").json()["records"]
    assert [(r["ref"], r["route"]) for r in listed] == [("records-1.jsonl:0", "fake,small")]
    recorded = session[0].get("records/records-1.jsonl:0")
    assert recorded.status_code == 200 and "leaked-if-shown" not in recorded.text
    request = {k: recorded.json()[k] for k in ("method", "path", "headers", "body")}
    answer = change(session, "POST", "script/try", {"request": request,
                                                    "session_id": "s1"}).json()
    assert (answer["rule"], answer["route"], answer["session_id"]) == ("custom", "fake,big", "s1")
    assert session[0].get("records/records-1.jsonl:5").status_code == 404
