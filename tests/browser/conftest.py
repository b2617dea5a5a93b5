"""Browser fixtures: the app served by werkzeug in a thread, and headless chromium (Playwright)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from app import create_app
from app.services import reference_data, user_accounts
from tests.conftest import TEST_CONFIG

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


class LiveServer:
    """A running app: `url` is its base address, `app` the Flask app behind it."""

    def __init__(self, app, server) -> None:
        self.app = app
        self.server = server
        self.url = f"http://127.0.0.1:{server.server_port}"


@pytest.fixture
def live_server(migrated) -> Iterator[LiveServer]:
    """Serve a fresh app on a free port of 127.0.0.1 against the test database."""
    app = create_app({**TEST_CONFIG, "DATABASE_URL": migrated.url})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(app, server)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.extensions["db"].Session.begin() as session:
            reference_data.clear_all(session)
        app.extensions["db"].engine.dispose()


@pytest.fixture
def demo_users(live_server) -> None:
    """Write the demo accounts (password accounts.DEMO_PASSWORD) on the live server's database."""
    with live_server.app.extensions["db"].Session.begin() as session:
        user_accounts.ensure_demo_users(session)


@pytest.fixture(scope="session")
def browser():
    """Launch headless chromium once per run (skip when it or Playwright is missing)."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    pw = sync_api.sync_playwright().start()
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()
    pw.stop()


@pytest.fixture
def page(browser, live_server):
    """Return a fresh page (own cookies) whose relative URLs go to the live server."""
    context = browser.new_context(base_url=live_server.url, locale="zh-CN",
                                  viewport={"width": 1366, "height": 820})
    pg = context.new_page()
    yield pg
    context.close()


def login(page, username: str, password: str) -> None:
    """Sign in through the login form and wait for the home page."""
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/")
