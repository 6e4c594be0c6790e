"""Headless Chromium (Debian ``chromium``) driven over the DevTools protocol, for page tests.

Chromium starts with ``--remote-debugging-port=0`` and a throw-away profile; the port it picked
is read from the profile's ``DevToolsActivePort`` file and the page is driven over one
websocket (websocket-client). Console errors, uncaught exceptions and failed loads are
collected as they arrive (:meth:`Browser.errors`).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import websocket

FLAGS = (
    "--headless",
    "--no-sandbox",  # root in containers and CI; the pages are the tests' own files
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--mute-audio",
    "--autoplay-policy=no-user-gesture-required",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--remote-debugging-port=0",
)
LOG = "chromium.log"  # Chromium's own output, in the profile folder


def chromium_binary() -> str:
    """The Chromium to run: ``$AUTOMIX_CHROMIUM`` or ``chromium`` on the PATH."""
    found = os.environ.get("AUTOMIX_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError("Chromium is not installed: apt-get install chromium (see .ci/apt-packages.txt)")
    return found


def _port(profile: Path, process: subprocess.Popen, timeout: float) -> int:
    """The DevTools port Chromium wrote into its profile."""
    deadline = time.monotonic() + timeout
    marker = profile / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (profile / LOG).read_text(errors="replace").strip().splitlines()
            raise RuntimeError(f"Chromium exited with code {process.returncode}: {log[-1] if log else 'no output'}")
        if marker.is_file() and marker.read_text().strip():
            return int(marker.read_text().split()[0])
        time.sleep(0.05)
    raise RuntimeError(f"Chromium's DevTools did not start in {timeout:g} s")


class Browser:
    """One headless Chromium with one page; use as a context manager."""

    def __init__(self, profile: Path, *, width: int = 1280, height: int = 900, timeout: float = 20.0):
        profile.mkdir(parents=True, exist_ok=True)
        window = f"--window-size={width},{height}"
        argv = [chromium_binary(), *FLAGS, f"--user-data-dir={profile}", window, "about:blank"]
        with open(profile / LOG, "wb") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        self.events: list[dict[str, Any]] = []
        self._id = 0
        try:
            port = _port(profile, self.process, timeout)
            local = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
            with local.open(f"http://127.0.0.1:{port}/json/list", timeout=timeout) as answer:
                page = next(t for t in json.load(answer) if t["type"] == "page")
            url = page["webSocketDebuggerUrl"]
            direct = socket.create_connection(("127.0.0.1", port), timeout=timeout)  # never through a proxy
            self.socket = websocket.create_connection(url, timeout=timeout, suppress_origin=True, socket=direct)
            for domain in ("Page", "Runtime", "Log"):
                self.call(f"{domain}.enable")
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection and end Chromium."""
        if getattr(self, "socket", None) is not None:
            self.socket.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def _receive(self) -> dict[str, Any]:
        message = json.loads(self.socket.recv())
        if "method" in message:
            self.events.append(message)
        return message

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result (events meanwhile are kept)."""
        self._id += 1
        self.socket.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = self._receive()
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error'].get('message')}")
                return message.get("result", {})

    def open(self, url: str, timeout: float = 20.0) -> None:
        """Load ``url`` and wait for its load event."""
        seen = len(self.events)
        navigated = self.call("Page.navigate", url=url)
        if navigated.get("errorText"):
            raise RuntimeError(f"cannot open {url}: {navigated['errorText']}")
        deadline = time.monotonic() + timeout
        while not any(e["method"] == "Page.loadEventFired" for e in self.events[seen:]):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not load in {timeout:g} s")
            self._receive()

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (a promise is awaited)."""
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise RuntimeError(details.get("exception", {}).get("description") or details.get("text"))
        return result["result"].get("value")

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads seen so far."""
        found = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                found.append(details.get("exception", {}).get("description") or details.get("text", "exception"))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                found.append(f"{entry.get('text')} ({entry.get('url', '')})")
        return found

    def screenshot(self, path: Path) -> Path:
        """A PNG of the whole page (beyond the window) at ``path``."""
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        data = self.call("Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True)["data"]
        path.write_bytes(base64.b64decode(data))
        return path
