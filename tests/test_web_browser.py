"""The web page in a real browser: Debian's chromium driven by Playwright against a live uvicorn server.

Skipped when playwright or chromium is missing, unless PRIVOBF_REQUIRE_BROWSER=1 (CI sets it, so a
broken browser set-up fails loudly instead of silently testing nothing). PRIVOBF_CHROMIUM points at
another chromium binary.
"""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from privobf.data.sources import build_source
from privobf.scanning import Scanner

CHROMIUM = os.environ.get("PRIVOBF_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 900}
PHOTO_SIZE = 384


def unavailable(reason: str) -> None:
    """Skip, or fail when the environment promised a browser."""
    if os.environ.get("PRIVOBF_REQUIRE_BROWSER") == "1":
        pytest.fail(f"PRIVOBF_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def sync_playwright():
    for module, extra in (("fastapi", "serve"), ("uvicorn", "serve"), ("playwright.sync_api", "test")):
        try:
            __import__(module)
        except ImportError:
            unavailable(f"{module} is not installed (pip install 'privobf[{extra}]')")
    if not Path(CHROMIUM).is_file():
        unavailable(f"no chromium at {CHROMIUM} (apt-get install chromium, or set PRIVOBF_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    return sync_playwright


@pytest.fixture(scope="module")
def server(sync_playwright, tiny_model):
    """A live server on a free loopback port, in a background thread; yields its base URL."""
    import uvicorn

    from privobf.web.app import create_app
    from privobf.web.server import LOOPBACK_NAMES, bind_socket

    app = create_app(Scanner(tiny_model, prior_set=None), allowed_hosts=list(LOOPBACK_NAMES))
    sock = bind_socket("127.0.0.1", 0)
    instance = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=instance.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not instance.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    instance.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def photo_file(tmp_path) -> Path:
    """A synthetic scene (a person, a letter with a name and address, ...): something worth hiding."""
    scene = build_source("synthetic", n=1, image_size=PHOTO_SIZE, seed=3, difficulty="easy")[0]
    path = tmp_path / "street scene.png"
    Image.fromarray(scene.image).save(path)
    return path


@pytest.fixture
def browser(sync_playwright):
    with sync_playwright() as playwright:
        try:
            instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as error:  # noqa: BLE001 - any launch failure means "no usable browser here"
            unavailable(f"chromium at {CHROMIUM} does not start: {str(error).splitlines()[0]}")
        yield instance
        instance.close()


def wait_until(page, predicate: str, timeout: float = 15.0) -> None:
    """Poll `predicate` with page.evaluate: wait_for_function evaluates strings in the page, which the
    page's Content-Security-Policy (no 'unsafe-eval') rightly forbids."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(predicate):
        assert time.monotonic() < deadline, f"timed out waiting for {predicate}"
        time.sleep(0.05)


def distinct_colours(png: bytes) -> int:
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    return len(np.unique(pixels, axis=0))


def test_scan_tick_blur_and_download_in_chromium(server, browser, photo_file, tmp_path):
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    console_errors: list[str] = []
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: console_errors.append(str(error)))
    page.set_default_timeout(15_000)

    page.goto(server + "/")
    assert page.title().startswith("privobf")
    page.set_input_files("#file-input", str(photo_file))
    wait_until(page, "() => document.getElementById('score').textContent.trim() !== '–'")
    score = float(page.text_content("#score"))
    assert 0.0 <= score <= 1.0 and page.text_content("#level").strip()
    assert page.text_content("#file-name") == "street scene.png"
    wait_until(page, "() => document.getElementById('overlay').naturalWidth > 0")
    assert page.is_visible("#error") is False

    # Untick a found attribute, or open the "other attributes" list and tick one there.
    boxes = page.locator("#found-list input[type=checkbox]")
    if boxes.count() == 0:
        page.click("#more-summary")
        boxes = page.locator("#other-list input[type=checkbox]")
    first = boxes.first
    was_checked = first.is_checked()
    first.set_checked(not was_checked)
    first.set_checked(True)
    assert first.is_checked()
    description = page.text_content(f"label[for='{first.get_attribute('id')}'] .attribute-name")
    assert page.get_by_role("checkbox", name=description).count() >= 1  # each box is labelled by its attribute

    page.select_option("#mode", "blur")
    assert page.is_visible("#strength") and page.is_visible("#text-note")
    assert "read back" in page.text_content("#text-note")
    page.locator("#strength").evaluate("(slider) => { slider.value = '0.25'; slider.dispatchEvent(new Event('input')); }")
    assert page.text_content("#strength-value") == "0.25"
    page.select_option("#format", "png")

    with page.expect_download() as download_info:
        page.click("#hide-button")
    download = download_info.value
    assert download.suggested_filename == "street scene.privobf.png"
    saved = tmp_path / "download.png"
    download.save_as(saved)
    with Image.open(saved) as result:
        result.load()
        assert result.size == (PHOTO_SIZE, PHOTO_SIZE) and result.format == "PNG"
    wait_until(page, "() => document.getElementById('after').naturalWidth > 0")
    assert page.is_visible("#before") and page.is_visible("#download-link")

    # A real render, not a blank page: the screenshot decodes, has the viewport's size and many colours.
    shot = page.screenshot(path=str(tmp_path / "page.png"))
    assert Image.open(io.BytesIO(shot)).size == (VIEWPORT["width"], VIEWPORT["height"])
    assert distinct_colours(shot) > 50
    keep = os.environ.get("PRIVOBF_WEB_SCREENSHOT")  # e.g. docs/images/web_page.png, to refresh the README's
    if keep:
        page.screenshot(path=keep, full_page=True)

    local = (server + "/", f"blob:{server}/", "data:")
    assert requested and all(url.startswith(local) for url in requested), [u for u in requested if not u.startswith(local)]
    assert not console_errors, console_errors
    context.close()


def test_errors_are_shown_in_the_alert_area(server, browser, tmp_path):
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(15_000)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    page.goto(server + "/")
    page.set_input_files("#file-input", str(broken))
    alert = page.get_by_role("alert")
    alert.wait_for(state="visible")
    assert alert.text_content().startswith("broken.jpg: ")
    assert page.is_hidden("#results")
    page.close()


def test_other_hosts_cannot_use_the_page(server):
    """DNS rebinding: the same server reached under another name refuses to answer."""
    import http.client

    port = int(server.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/", headers={"Host": f"rebind.example:{port}"})
    response = connection.getresponse()
    assert response.status == 403 and b"Host" in response.read()
    connection.close()
