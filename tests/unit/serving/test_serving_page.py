"""The web page at `/`: served by the app, and exercised in headless Chromium when present."""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")


def test_page_and_its_assets_are_served_without_any_cdn(client_for, adult_model_dir):
    client = client_for(models=[str(adult_model_dir)])
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<select id="model"' in page.text
    script = client.get("/static/app.js")
    assert script.status_code == 200 and "/v1/models" in script.text
    for text in (page.text, script.text, client.get("/static/style.css").text):
        assert "http://" not in text and "https://" not in text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _live_server(model_dir: Path) -> Iterator[int]:
    import uvicorn

    from lathe.serving import ServeSettings, create_app

    port = _free_port()
    app = create_app(
        ServeSettings(models=[str(model_dir)], port=port, prediction_log=None, reload_interval_s=0)
    )
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _need_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip("no Chromium at /usr/bin/chromium (.ci/run installs Debian's chromium)")


def test_page_builds_form_and_answers_in_headless_chromium_dom(adult_model_dir):
    """Without Playwright: Chromium's --dump-dom after the page's scripts ran (a shareable
    link that fills the form and predicts)."""
    _need_chromium()
    with _live_server(adult_model_dir) as port:
        url = f"http://127.0.0.1:{port}/?model=adult&age=52&workclass=Private&predict=1"
        done = subprocess.run(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--virtual-time-budget=8000",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    dom = done.stdout
    assert '<option value="adult">adult (binary,' in dom, done.stderr[-2000:]
    assert 'name="age"' in dom and '<option value="Private">Private</option>' in dom
    assert '<section id="answer" aria-live="polite">' in dom  # no longer hidden
    label = re.search(r'<span id="label">([^<]*)</span>', dom).group(1)
    assert label in ("&lt;=50K", "&gt;50K")
    assert dom.count('class="bar') == 2 and 'style="width:' in dom


def test_page_predicts_in_headless_chromium(tmp_path, adult_model_dir):
    playwright_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (add it to the dev extra)"
    )
    _need_chromium()
    with _live_server(adult_model_dir) as port:
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("#fields [name=age]")
            assert page.locator("#model option").first.inner_text().startswith("adult")
            page.fill("[name=age]", "52")
            page.select_option("[name=workclass]", "Private")
            page.select_option("[name=education]", "Masters")
            page.click("#predict")
            page.wait_for_selector("#answer:not([hidden])")
            assert page.inner_text("#label") in ("<=50K", ">50K")
            assert page.locator("#bars .bar").count() == 2
            widths = page.locator("#bars .fill").evaluate_all("els => els.map(e => e.style.width)")
            assert all(w.endswith("%") for w in widths)
            browser.close()
