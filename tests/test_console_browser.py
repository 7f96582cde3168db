"""The web console driven in a real headless Chromium, against a real ``ccr serve`` in front of
the fake upstream: what a user clicks, what they see, and what the file on disk becomes.

Debian's ``chromium`` is driven by Playwright (never downloading a browser). Without it these
tests skip, unless ``CCR_REQUIRE_BROWSER=1`` (CI) makes that a failure. Screenshots of every
page land in ``test-output/console/``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import json5
import pytest

from tests.support.console_helpers import SECRET_KEY, write_config
from tests.support.fake_upstream import FakeUpstream
from tests.support.serve_process import ServeProcess

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-output" / "console"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]
ROUTER_SCRIPT = '''def router(req, config):
    text = str(req["body"]["messages"][-1]["content"])
    print("saw", len(text), "characters")
    if "review" in text:
        return "fake,fake-model-large"
    return None
'''


def _playwright() -> Any:
    required = os.environ.get("CCR_REQUIRE_BROWSER") == "1"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if required:
            pytest.fail("CCR_REQUIRE_BROWSER=1 but playwright is not installed")
        pytest.skip("playwright is not installed")
    if not Path(CHROMIUM).exists():
        if required:
            pytest.fail(f"CCR_REQUIRE_BROWSER=1 but there is no Chromium at {CHROMIUM}")
        pytest.skip("no Chromium (apt-get install chromium)")
    return sync_playwright


pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("console") / "ccr-home"
    (home / "custom_router.py").parent.mkdir(parents=True)
    (home / "custom_router.py").write_text(ROUTER_SCRIPT)
    (home / "records").mkdir()
    (home / "records" / "records-20261206T070000.jsonl").write_text(json.dumps({
        "time": "2026-12-06T07:00:00+00:00", "session_id": "recorded-session",
        "headers": {"x-claude-code-session-id": "recorded-session"},
        "body": {"model": "claude-sonnet-4-5", "max_tokens": 100,
                 "messages": [{"role": "user", "content": "review my change please"}]},
        "decision": {"rule": "default", "route": "fake,fake-model", "reason": None},
        "outcome": {"status": 200, "usage": {}, "latency_ms": 5.0, "error": None}}) + "\n")
    write_config(home / "config.json", (
        "{\n"
        "  // the console keeps this comment when it saves the text\n"
        '  "Providers": [],\n'
        '  "Router": {},\n'
        '  "CUSTOM_ROUTER_PATH": "custom_router.py",\n'
        '  "LOG": true,\n'
        "}\n"))
    return home


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[ServeProcess]:
    sync_playwright = _playwright()  # skip before starting anything
    del sync_playwright
    process = ServeProcess(home=home, config_path=home / "config.json")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def browser(server: ServeProcess) -> Iterator[Any]:
    sync_playwright = _playwright()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield chromium
        chromium.close()


class Seen:
    """Every answer the browser got from the console, and any CSP report or script error."""

    def __init__(self) -> None:
        self.bodies: dict[str, list[str]] = {}
        self.problems: list[str] = []

    def watch(self, page: Any) -> None:
        page.on("response", self._response)
        # An answer with an error status (401, 403, 400: refusals the tests ask for) is logged
        # by Chromium as "Failed to load resource"; everything else is a real problem.
        page.on("console", lambda m: self.problems.append(m.text)
                if m.type == "error" and "Failed to load resource" not in m.text else None)
        page.on("pageerror", lambda e: self.problems.append(str(e)))

    def _response(self, response: Any) -> None:
        if "/ui/" not in response.url:
            return
        try:
            body = response.text()
        except Exception:  # a redirect or an aborted request has no body
            return
        self.bodies.setdefault(response.url.split("?")[0], []).append(body)


@pytest.fixture(scope="module")
def seen() -> Seen:
    return Seen()


@pytest.fixture
def page(browser: Any, server: ServeProcess, seen: Seen) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    seen.watch(page)
    page.set_default_timeout(10_000)
    yield page
    context.close()


def token(home: Path) -> str:
    return (home / "ui-token").read_text().strip()


def log_in(page: Any, server: ServeProcess, home: Path) -> None:
    page.goto(f"{server.url}/ui/")
    page.fill("#token", token(home))
    page.click("#login-button")
    page.wait_for_selector("[data-testid=overview-stats]")


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def ensure_provider(server: ServeProcess, home: Path, fake: FakeUpstream) -> None:
    """The fake provider and the default route, through the API, for tests run on their own
    (the first test adds them by hand in the browser)."""
    from ccr.ui.token import ensure_token

    api = httpx.Client(base_url=f"{server.url}/ui/api/", trust_env=False, timeout=20,
                       headers={"authorization": f"Bearer {ensure_token(home)}"})
    with api:
        if not api.get("providers").json()["providers"]:
            assert api.post("providers", json={
                "name": "fake", "api_base_url": fake.chat_url, "api_key": SECRET_KEY,
                "models": ["fake-model", "fake-model-large"]}).status_code == 200
            assert api.put("routes", json={"Router": {"default": "fake,fake-model"}}
                           ).status_code == 200


def go(page: Any, name: str) -> None:
    page.click(f"#nav a[data-page={name}]")
    page.wait_for_selector(f"#page[data-page={name}]")


def shot(page: Any, name: str) -> None:
    page.evaluate("() => window.scrollTo(0, 0)")  # the sticky header stays on top
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


# -- the user's path -----------------------------------------------------------------------


def test_log_in_add_a_provider_route_to_it_and_see_the_request_in_the_live_tail(
        page: Any, server: ServeProcess, home: Path, fake: FakeUpstream) -> None:
    page.goto(f"{server.url}/ui/")
    page.wait_for_selector("#login-form")
    page.fill("#token", "not-the-token")
    page.click("#login-button")
    page.wait_for_selector("#login-error:has-text('wrong admin token')")
    shot(page, "01-login")

    page.fill("#token", token(home))
    page.click("#login-button")
    page.wait_for_selector("[data-testid=overview-stats]")

    go(page, "providers")
    page.fill("#p-name", "fake")
    page.fill("#p-url", fake.chat_url)
    page.fill("#p-key", SECRET_KEY)
    page.fill("#p-models", "fake-model, fake-model-large")
    page.click("#p-save")
    page.wait_for_selector("[data-testid=saved]")
    assert "The server reloaded it." in page.inner_text("[data-testid=saved]")
    assert page.inner_text("[data-testid=providers-table] [data-testid=key]") == (
        f"set …{SECRET_KEY[-4:]}")
    assert page.input_value("#p-key") == ""
    shot(page, "02-providers")
    config = json5.loads((home / "config.json").read_text())  # comments are kept
    assert config["Providers"][0]["api_key"] == SECRET_KEY

    go(page, "routes")
    page.fill("#slot-default", "fake,no-such-model")
    page.wait_for_selector("[data-testid=slot-error-default]:has-text('not in')")
    assert "fake-model" in page.inner_text("[data-testid=slot-error-default]")
    page.fill("#slot-default", "fake,fake-model")
    expect(page.locator("[data-testid=slot-error-default]")).to_have_text("")
    page.click("#routes-save")
    page.wait_for_selector("[data-testid=reload-result]")
    assert "reloaded" in page.inner_text("[data-testid=reload-result]")
    shot(page, "03-routes")
    assert json5.loads((home / "config.json").read_text())["Router"]["default"] == (
        "fake,fake-model")

    go(page, "requests")
    answer = httpx.post(f"{server.url}/v1/messages", trust_env=False, timeout=20, json={
        "model": "claude-sonnet-4-5", "max_tokens": 50,
        "messages": [{"role": "user", "content": "hello"}],
    }, headers={"x-claude-code-session-id": "session-from-the-browser-test"})
    assert answer.status_code == 200, answer.text
    row = page.wait_for_selector("#requests-body tr[data-route='fake,fake-model']")
    cells = row.inner_text()
    assert "default" in cells and "200" in cells
    page.select_option("#filter-status", "error")
    expect(page.locator("#requests-body tr")).to_have_count(0)
    page.select_option("#filter-status", "")
    page.wait_for_selector("#requests-body tr[data-route='fake,fake-model']")
    shot(page, "04-requests")

    go(page, "overview")
    assert page.inner_text("[data-testid=stat-requests] .value") == "1"
    shot(page, "05-overview")

    for _ in range(50):  # the ledger writes its rows in the background
        go(page, "usage")
        if "fake,fake-model" in page.inner_text("[data-testid=usage-route]"):
            break
        go(page, "overview")
        page.wait_for_timeout(100)
    assert "fake,fake-model" in page.inner_text("[data-testid=usage-route]")
    assert page.locator("[data-testid=usage-note]").count() == 0  # from the ledger itself
    shot(page, "06-usage")


def test_an_invalid_config_edit_shows_the_error_and_leaves_the_file_untouched(
        page: Any, server: ServeProcess, home: Path) -> None:
    log_in(page, server, home)
    go(page, "config")
    page.wait_for_selector("[data-testid=config-valid]")
    text = page.input_value("#config-text")
    assert "the console keeps this comment" in text or "Providers" in text
    assert SECRET_KEY not in text
    before = (home / "config.json").read_bytes()
    assert '"LOG": true' in text
    page.fill("#config-text", text.replace('"LOG": true', '"LOG": true, "PORT": "not a port"', 1))
    page.wait_for_selector("[data-testid=config-invalid]")
    assert "PORT" in page.inner_text("[data-testid=config-status]")
    page.click("#config-save")
    page.wait_for_selector("[data-testid=save-error]")
    assert "Not saved (the file is unchanged)" in page.inner_text("[data-testid=save-error]")
    assert 'PORT: expected an integer 1-65535, got "not a port"' in page.inner_text(
        "[data-testid=config-result]")
    shot(page, "07-config-invalid")
    assert (home / "config.json").read_bytes() == before


def test_the_config_text_is_saved_with_its_comments_and_keys_kept(
        page: Any, server: ServeProcess, home: Path, fake: FakeUpstream) -> None:
    ensure_provider(server, home, fake)
    log_in(page, server, home)
    go(page, "config")
    page.wait_for_selector("[data-testid=config-valid]")
    text = page.input_value("#config-text")
    page.fill("#config-text", "// saved from the console\n" + text)
    page.click("#config-diff")
    assert "+// saved from the console" in page.inner_text("[data-testid=diff]")
    page.click("#config-save")
    page.wait_for_selector("[data-testid=reload-result]")
    shot(page, "08-config")
    on_disk = (home / "config.json").read_text()
    assert on_disk.startswith("// saved from the console") and SECRET_KEY in on_disk


def test_the_router_script_try_it_shows_the_decision(page: Any, server: ServeProcess,
                                                     home: Path, fake: FakeUpstream) -> None:
    ensure_provider(server, home, fake)
    log_in(page, server, home)
    go(page, "script")
    assert "def router" in page.input_value("#script-text")
    page.select_option("#try-sample", "review request")
    page.uncheck("#try-draft")
    page.click("#try-run")
    page.wait_for_selector("[data-testid=decision-route]:has-text('fake')")
    assert page.inner_text("[data-testid=decision-route]") == "fake,fake-model-large"
    assert page.inner_text("[data-testid=decision-rule]") == "custom"
    assert "router script returned" in page.inner_text("[data-testid=decision-why]")
    assert page.inner_text("[data-testid=decision-prints]").startswith("saw ")
    assert "default" in page.inner_text("[data-testid=decision-rules]")
    shot(page, "09-script")
    page.set_viewport_size({"width": 1280, "height": 1400})  # the whole card, no scrolling
    page.locator(".card:has(#try-run)").screenshot(path=str(SCREENSHOTS / "09-try-it.png"))


def test_a_recorded_request_is_tried_and_compared_with_its_recorded_decision(
        page: Any, server: ServeProcess, home: Path, fake: FakeUpstream) -> None:
    ensure_provider(server, home, fake)
    log_in(page, server, home)
    go(page, "script")
    page.select_option("#try-record", index=1)
    page.wait_for_selector("[data-testid=recorded-decision]:has-text('When recorded')")
    assert "rule default → fake,fake-model" in page.inner_text(
        "[data-testid=recorded-decision]")
    assert page.input_value("#try-session") == "recorded-session"
    page.uncheck("#try-draft")
    page.click("#try-run")
    page.wait_for_selector("[data-testid=decision-route]:has-text('fake')")
    assert page.inner_text("[data-testid=decision-route]") == "fake,fake-model-large"
    assert page.inner_text("[data-testid=decision-rule]") == "custom"


def test_a_project_override_is_checked_as_typed_and_saved(
        page: Any, server: ServeProcess, home: Path, fake: FakeUpstream) -> None:
    ensure_provider(server, home, fake)
    log_in(page, server, home)
    go(page, "routes")
    page.fill("#ov-project", "-home-me-shop")
    page.fill("#ov-default", "fake,nope")
    page.wait_for_selector("[data-testid=ov-error-default]:has-text('not in')")
    page.fill("#ov-default", "fake,fake-model-large")
    expect(page.locator("[data-testid=ov-error-default]")).to_have_text("")
    page.click("#ov-save")
    page.wait_for_selector("[data-testid=overrides-table] td:has-text('-home-me-shop')")
    assert "override saved" in page.inner_text("[data-testid=override-result]")
    shot(page, "03b-overrides")
    assert json.loads((home / "-home-me-shop" / "config.json").read_text()) == {
        "Router": {"default": "fake,fake-model-large"}}


def test_requests_without_the_token_or_with_a_wrong_csrf_token_are_refused(
        browser: Any, page: Any, server: ServeProcess, home: Path) -> None:
    stranger = browser.new_context().new_page()
    stranger.goto(f"{server.url}/ui/")
    status = stranger.evaluate("fetch('api/overview').then(r => r.status)")
    assert status == 401
    stranger.context.close()

    log_in(page, server, home)
    before = (home / "config.json").read_bytes()
    status = page.evaluate("""fetch('api/routes', {method: 'PUT',
        headers: {'content-type': 'application/json', 'x-csrf-token': 'forged'},
        body: JSON.stringify({Router: {default: 'fake,fake-model-large'}})}).then(r => r.status)""")
    assert status == 403
    status = page.evaluate("""fetch('api/routes', {method: 'PUT',
        headers: {'content-type': 'application/json'},
        body: JSON.stringify({Router: {default: 'fake,fake-model-large'}})}).then(r => r.status)""")
    assert status == 403
    assert (home / "config.json").read_bytes() == before


def test_every_page_fits_a_narrow_laptop_screen(browser: Any, server: ServeProcess,
                                                home: Path, seen: Seen) -> None:
    context = browser.new_context(viewport={"width": 760, "height": 900})
    page = context.new_page()
    seen.watch(page)
    log_in(page, server, home)
    for name in ("overview", "providers", "routes", "config", "script", "requests", "usage"):
        go(page, name)
        page.wait_for_timeout(150)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name} is {overflow}px too wide"
    shot(page, "10-narrow-requests")
    context.close()


def test_no_console_answer_the_browser_saw_holds_a_provider_key_or_broke_the_csp(
        page: Any, server: ServeProcess, home: Path, seen: Seen) -> None:
    log_in(page, server, home)
    for name in ("providers", "routes", "config", "script", "requests", "usage"):
        go(page, name)
    endpoints = {url.rsplit("/ui/", 1)[1] for url in seen.bodies}
    assert {"api/overview", "api/providers", "api/routes", "api/config", "api/script",
            "api/requests", "api/usage"} <= endpoints, endpoints
    for url, bodies in seen.bodies.items():
        for body in bodies:
            assert SECRET_KEY not in body, url
    assert seen.problems == []  # no script error, no Content-Security-Policy violation
