"""twolayer draw's page in a real browser: headless Chromium driven by Selenium draws strokes with a mouse, a finger
and a pen, and the prediction shown must be the net's own for the picture on the canvas.

Without Chromium, chromedriver or Selenium the test skips, saying what is missing; under CI (``$CI`` set), which
installs them, it fails instead.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import threading

import numpy as np
import pytest

from twolayer.datasets import image_to_mnist
from twolayer.draw import DrawServer

STROKES = {  # digits as strokes of (x, y) offsets from the canvas's centre, in its 280x280 pixels
    "one": [[(0, -90), (0, -30), (0, 30), (0, 90)]],
    "seven": [[(-60, -80), (0, -80), (60, -80), (30, -10), (0, 80)]],
    "zero": [
        [(0, -90), (-50, -60), (-60, 0), (-50, 60), (0, 90), (50, 60), (60, 0), (50, -60), (0, -90)]
    ],
}


def _browser_or_skip():
    """A headless Chromium WebDriver that records the page's network requests."""
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium (pip install '.[test]')")
    if missing:
        message = f"the browser test needs {', '.join(missing)} (Debian: apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    options = Options()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=900,800", "--disable-background-networking"):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    # Both paths given, so Selenium Manager never looks for a driver or a browser online. The browser
    # gets no sanitizer runtime preloaded (CI's sanitizer leg preloads ASan for this process; it
    # stops chromedriver at once with ASan's exit status 86).
    browser_env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS")}
    service = Service(shutil.which("chromedriver"), env=browser_env)
    return webdriver.Chrome(service=service, options=options)


@pytest.fixture(scope="module")
def page(book_net):
    """(browser, server) with the page of the book's trained network open."""
    server = DrawServer(book_net, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    browser = None
    try:
        browser = _browser_or_skip()
        browser.set_page_load_timeout(30)
        browser.get(server.url)
        yield browser, server
    finally:
        if browser is not None:
            browser.quit()
        server.shutdown()
        server.server_close()
        thread.join(5)


def draw(browser, strokes, kind: str = "mouse") -> None:
    """Draw `strokes` on the canvas with a pointer of `kind` (mouse, touch or pen), as a person would."""
    from selenium.webdriver.common.actions import interaction
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput

    canvas = browser.find_element("id", "canvas")
    scale = canvas.size["width"] / 280  # the canvas's CSS size over its pixels
    pointer = PointerInput({"mouse": interaction.POINTER_MOUSE, "touch": interaction.POINTER_TOUCH,
                            "pen": interaction.POINTER_PEN}[kind], kind)  # fmt: skip
    actions = ActionBuilder(browser, mouse=pointer, duration=10)
    for stroke in strokes:
        (x, y), rest = stroke[0], stroke[1:]
        actions.pointer_action.move_to(canvas, round(x * scale), round(y * scale)).pointer_down()
        for x, y in rest:
            actions.pointer_action.move_to(canvas, round(x * scale), round(y * scale))
        actions.pointer_action.pointer_up()
    actions.perform()


def shown(browser) -> dict:
    """What the page shows once it has caught up with the canvas: its picture, the prediction, the bars, the sample."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 20).until(
        lambda b: b.execute_script("return document.body.dataset.state") == "idle"
    )
    return browser.execute_script(
        """
        const sample = document.getElementById("sample").getContext("2d").getImageData(0, 0, 28, 28).data;
        return {
          picture: document.getElementById("canvas").toDataURL("image/png"),
          prediction: document.getElementById("prediction").textContent,
          bars: [...document.querySelectorAll("#bars li")].map((li) => Number(li.dataset.probability)),
          widths: [...document.querySelectorAll("#bars li")].map(
            (li) => li.querySelector(".bar").getBoundingClientRect().width /
              li.querySelector(".track").getBoundingClientRect().width),
          sample: Array.from(sample.filter((_, i) => i % 4 === 0)),
          status: document.getElementById("status").textContent,
        };
        """
    )


def _picture(data_url: str):
    from PIL import Image

    header, data = data_url.split(",", 1)
    assert header == "data:image/png;base64"
    return Image.open(io.BytesIO(base64.b64decode(data)))


def check_prediction(browser, net, expected_digit: int | None = None) -> int:
    """The page's prediction, bars and sample are the net's for the picture on its canvas; returns the digit."""
    state = shown(browser)
    sample = image_to_mnist(_picture(state["picture"]))
    p = net.predict(sample)
    digit = int(p.argmax())
    assert state["prediction"].startswith(f"{digit} "), (state["prediction"], p)
    assert state["prediction"] == f"{digit} (probability {p[digit]:.3f})"
    np.testing.assert_allclose(state["bars"], p, rtol=1e-12)
    np.testing.assert_allclose(state["widths"], p, atol=0.01)  # each bar as long as its probability
    np.testing.assert_allclose(state["sample"], np.round(np.round(sample, 3) * 255), atol=1)
    if expected_digit is not None:  # the book's net reads a clear stroke right
        assert digit == expected_digit, p
    return digit


def requested(browser) -> list[str]:
    """The addresses the page has requested since the last call."""
    import json

    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_drawing_shows_the_nets_prediction_and_clear_starts_again(page, book_net):
    browser, server = page
    assert browser.find_element("id", "prediction").text == ""
    draw(browser, STROKES["one"])
    check_prediction(browser, book_net, expected_digit=1)

    browser.find_element("id", "clear").click()
    state = shown(browser)
    assert state["prediction"] == "" and state["bars"] == state["widths"] == [0] * 10
    assert not any(state["sample"])
    blank = np.asarray(_picture(state["picture"]).convert("L"))
    assert (blank == 255).all()  # white paper again

    draw(browser, STROKES["seven"], kind="touch")
    check_prediction(browser, book_net, expected_digit=7)
    browser.find_element("id", "clear").click()
    draw(browser, STROKES["zero"], kind="pen")
    check_prediction(browser, book_net, expected_digit=0)
    draw(browser, [[(70, -90), (70, 90)]])  # more ink on the same picture: read again
    check_prediction(browser, book_net)


def test_the_page_requests_nothing_outside_the_server(page):
    browser, server = page
    browser.get(server.url)
    draw(browser, STROKES["one"])
    shown(browser)
    urls = requested(browser)
    assert {
        server.url,
        server.url + "draw.js",
        server.url + "draw.css",
        server.url + "predict",
    } <= set(urls)
    outside = [url for url in urls if not url.startswith((server.url, "data:", "blob:"))]
    assert not outside
