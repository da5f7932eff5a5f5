"""Open the report built from fake runs in headless Chromium: every image loads, nothing errs.

Chromium is driven over the DevTools protocol through `--remote-debugging-pipe` (JSON messages
separated by NUL bytes on file descriptors 3 and 4), so no websocket client is needed.
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import numpy as np
import pytest
from PIL import Image

from fake_runs import make_fake_sweep
from segsweep.cli import main
from test_class_report import CLASSES, CONFUSIONS, aggregate_classes, report_of
from test_index import COMPUTE_MATCHED, headline_verdict, make_experiment

pytestmark = pytest.mark.browser

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--remote-debugging-pipe",
]
WIDTH = 1280


def find_chromium() -> str:
    """Debian's chromium; installed with apt-get when missing and running as root, else skip."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium), and not root to install it")
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
    ):
        done = subprocess.run(command, capture_output=True, text=True, timeout=900)
        if done.returncode:
            pytest.skip(f"could not install chromium ({' '.join(command)}): {done.stderr.strip()[-300:]}")
    return shutil.which("chromium") or pytest.skip("apt-get installed chromium but it is not on PATH")


def _pipe() -> tuple[int, int]:
    """A pipe whose ends are numbered 10 or more, so that placing them on fds 3 and 4 clobbers neither."""
    ends = os.pipe()
    high = tuple(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in ends)
    for fd in ends:
        os.close(fd)
    return high


class DevTools:
    """A minimal DevTools-protocol client over Chromium's debugging pipe; records every event."""

    def __init__(self, chromium: str, profile: Path):
        to_browser_r, self._out = _pipe()
        self._in, from_browser_w = _pipe()
        # The browser reads commands on fd 3 and writes replies on fd 4; bash's exec places them there.
        shell = f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w} {to_browser_r}<&- {from_browser_w}>&-'
        self.process = subprocess.Popen(
            ["bash", "-c", shell, chromium, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            pass_fds=(to_browser_r, from_browser_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []
        self.session: str | None = None

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._in], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError("no message from chromium in time")
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise ConnectionError("chromium closed the debugging pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict | None = None, timeout: float = 30) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if self.session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        seen = next((e for e in self.events if e.get("method") == method), None)
        while seen is None:
            event = self._read_message(deadline)
            self.events.append(event)
            seen = event if event.get("method") == method else None
        return seen

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (OSError, RuntimeError, TimeoutError, ConnectionError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._out)
        os.close(self._in)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    sweep = make_fake_sweep(root)
    assert main(sweep.aggregate_args()) == 0
    out = root / "report.html"
    assert main([*sweep.report_args(out, json.dumps(sweep.config())), "--dataset", sweep.dataset]) == 0
    return out


@pytest.fixture(scope="module")
def class_report(tmp_path_factory) -> Path:
    """test_class_report's three-class sweep of hand-made confusion matrices, aggregated and reported."""
    root = tmp_path_factory.mktemp("classes")
    sweep = make_fake_sweep(
        root, augmentations=("none",), n_images=8, classes=CLASSES, confusions=CONFUSIONS, deep_supervision=False
    )
    aggregate_classes(sweep)
    out = root / "report.html"
    report_of(sweep, out)
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium = find_chromium()
    tools = DevTools(chromium, tmp_path_factory.mktemp("chromium-profile"))
    yield tools
    tools.close()


def problems(events: list[dict]) -> list[str]:
    """Console errors, uncaught exceptions, browser log errors, and requests for anything but the file."""
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            found.append(f"console {params['type']}: {params['args']}")
        elif method == "Runtime.exceptionThrown":
            found.append(f"exception: {params['exceptionDetails']}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            found.append(f"log: {params['entry']['text']}")
        elif method == "Network.requestWillBeSent" and not params["request"]["url"].startswith(("file:", "data:")):
            found.append(f"request: {params['request']['url']}")
    return found


def open_page(browser, url: str, width: int | None = None):
    """Open `url` in a new tab and wait for its load; returns a function that evaluates a JavaScript
    expression there and gives back its value."""
    target = browser.send("Target.createTarget", {"url": "about:blank"})
    browser.session = browser.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})[
        "sessionId"
    ]
    for domain in ("Page", "Runtime", "Log", "Network"):
        browser.send(f"{domain}.enable")
    if width is not None:
        browser.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        )
    browser.events.clear()  # another page's load event must not stand for this one's
    browser.send("Page.navigate", {"url": url})
    browser.wait_for("Page.loadEventFired")

    def evaluate(expression: str):
        return browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})["result"]["value"]

    return evaluate


def test_report_renders_in_chromium(report, browser, tmp_path):
    open_page(browser, report.as_uri(), WIDTH)

    images = browser.send(
        "Runtime.evaluate",
        {
            "expression": "Array.from(document.images, i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth}))",
            "returnByValue": True,
        },
    )["result"]["value"]
    assert len(images) == 5 + 2 * 3  # five plots; best/worst/differ grids for two augmentations
    assert all(i["complete"] and i["width"] > 0 for i in images), images

    height = browser.send("Page.getLayoutMetrics")["cssContentSize"]["height"]
    shot = browser.send(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1},
        },
    )
    png = base64.b64decode(shot["data"])
    (tmp_path / "report.png").write_bytes(png)
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    assert pixels.shape[1] == WIDTH and pixels.shape[0] > 2000  # the whole long page
    assert pixels.std() > 20  # text and figures, not a blank page

    assert problems(browser.events) == []


def test_class_report_renders_in_chromium(class_report, browser):
    """A three-class report: the per-class table has a row per class and the mIoU row, each model's
    confusion heatmap and the class-coloured grids load, and the grids' legend names every class."""
    evaluate = open_page(browser, class_report.as_uri())

    def loaded(selector: str) -> list[dict]:
        return evaluate(
            f"Array.from(document.querySelectorAll({json.dumps(selector)}),"
            " i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth}))"
        )

    names = [spec["name"] for spec in CLASSES]
    rows = evaluate(
        "Array.from(document.querySelectorAll('#classes table.classes tbody tr'),"
        " r => ({name: r.querySelector('th').textContent.trim(), miou: r.classList.contains('miou'),"
        " cells: r.querySelectorAll('td').length}))"
    )
    assert [r["name"] for r in rows] == [*names, "mIoU"], rows  # the browser shows the escaped name as written
    assert [r["miou"] for r in rows] == [False] * len(names) + [True], rows
    assert all(r["cells"] == 2 for r in rows), rows  # unet, unetpp

    heatmaps = loaded("#classes img")
    assert [i["alt"] for i in heatmaps] == ["confusion matrix of unet", "confusion matrix of unetpp"], heatmaps
    assert all(i["complete"] and i["width"] > 0 for i in heatmaps), heatmaps
    grids = loaded("#grids figure.grid img")
    assert len(grids) == 3  # best, worst, differ of the one augmentation
    assert all(i["complete"] and i["width"] > 0 for i in grids), grids
    images = loaded("img")
    assert all(i["complete"] and i["width"] > 0 for i in images), images

    legend = evaluate(
        "Array.from(document.querySelectorAll('#grids .legend .key'), k => ({name: k.textContent.trim(),"
        " colour: getComputedStyle(k.querySelector('.swatch')).backgroundColor}))"
    )
    assert [k["name"] for k in legend] == [*names, "void"], legend
    assert [k["colour"] for k in legend[:-1]] == [f"rgb({r}, {g}, {b})" for r, g, b in (c["colour"] for c in CLASSES)]

    assert problems(browser.events) == []


def test_index_forest_plot_and_report_links_in_chromium(browser, tmp_path):
    """The index of three hand-made experiments (default, tuned, compute-matched): the forest plot
    loads, and each row's report link reaches a file."""
    results = tmp_path / "results"
    verdicts = {
        "default": headline_verdict(0.021, 0.008, 0.034),
        "tuned": headline_verdict(0.004, -0.002, 0.009, tuning_trials=6),
        "matched": headline_verdict(-0.003, -0.02, 0.014, baseline="unet_flops", **COMPUTE_MATCHED),
    }
    for day, (name, verdict) in enumerate(verdicts.items()):
        make_experiment(results, name, verdict=verdict, mtime=1_700_000_000 + 86_400 * day)
    assert main(["index", "--results", str(results)]) == 0

    evaluate = open_page(browser, (results / "index.html").as_uri())

    forest = evaluate("(i => i && {complete: i.complete, width: i.naturalWidth})(document.getElementById('forest'))")
    assert forest and forest["complete"] and forest["width"] > 0, forest
    links = evaluate("Array.from(document.querySelectorAll('a.report'), a => a.href)")
    assert len(links) == len(verdicts)
    assert all(Path(url2pathname(urlparse(link).path)).is_file() for link in links), links
    assert problems(browser.events) == []
