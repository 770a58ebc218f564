"""A real headless Chromium driven over the DevTools protocol (tests only).

Opens a page, waits for its load event, and reports what a person would notice: console
errors, uncaught exceptions, and any request that left the machine.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class PageReport:
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    value: Any = None


def open_page(url: str, profile: Path, evaluate: str, timeout: float = 30.0) -> PageReport:
    """Load ``url``; return console errors, exceptions, requested URLs and ``evaluate``'s value."""
    browser = chromium_path()
    assert browser, "chromium is not installed"
    process = subprocess.Popen(
        [browser, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        return _drive(_endpoint(profile, timeout), url, evaluate, timeout)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _endpoint(profile: Path, timeout: float) -> str:
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker.is_file():
            lines = marker.read_text().split()
            if len(lines) >= 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        time.sleep(0.05)
    raise TimeoutError("chromium did not open its DevTools port")


def _drive(endpoint: str, url: str, evaluate: str, timeout: float) -> PageReport:
    report = PageReport()
    ids = itertools.count(1)
    with connect(endpoint, max_size=None, open_timeout=timeout) as ws:

        def call(method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
            number = next(ids)
            message: dict[str, Any] = {"id": number, "method": method, "params": params}
            if session:
                message["sessionId"] = session
            ws.send(json.dumps(message))
            while True:
                event = json.loads(ws.recv(timeout=timeout))
                if event.get("id") == number:
                    assert "error" not in event, event
                    return event.get("result", {})
                _collect(event, report)

        target = call("Target.createTarget", url="about:blank")["targetId"]
        session = call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            call(f"{domain}.enable", session)
        call("Page.navigate", session, url=url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = json.loads(ws.recv(timeout=timeout))
            _collect(event, report)
            if event.get("method") == "Page.loadEventFired":
                break
        result = call("Runtime.evaluate", session, expression=evaluate, returnByValue=True)
        report.value = result.get("result", {}).get("value")
        call("Target.closeTarget", targetId=target)
    return report


def _collect(event: dict[str, Any], report: PageReport) -> None:
    method, params = event.get("method"), event.get("params") or {}
    if method == "Runtime.exceptionThrown":
        details = params.get("exceptionDetails") or {}
        text = (details.get("exception") or {}).get("description") or details.get("text")
        report.errors.append(f"exception: {text}")
    elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        args = [str(a.get("value", a.get("description"))) for a in params.get("args") or []]
        report.errors.append("console: " + " ".join(args))
    elif method == "Log.entryAdded" and (params.get("entry") or {}).get("level") == "error":
        report.errors.append("log: " + str(params["entry"].get("text")))
    elif method == "Network.requestWillBeSent":
        report.requests.append(str((params.get("request") or {}).get("url")))
