"""Drive the client like a person: Debian's chromium and a real `hiddenscope serve`.

Shared by the browser tests (tests/client) and the benchmark (bench/bench_client.py), so
both launch the browser and the server the same way. Nothing here runs at import time.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; never `playwright install`
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)
# The app is idle: no request in flight, no select or match pending, the URL up to date
# (window.hiddenscope is the app object of main.js).
IDLE_JS = """() => { const a = window.hiddenscope;
  return !!a && a.context !== null && Object.keys(a.aborts).length === 0
    && !a.matchBusy && !a.selectPending && !a.urlPending; }"""


def launch(playwright):
    """Launch Debian's chromium headless through a started Playwright (sync API)."""
    if not CHROMIUM.exists():
        raise FileNotFoundError(
            f"{CHROMIUM} is missing: run `make chromium` (apt-get install chromium)"
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str, timeout: float = 30):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


class Server:
    """`hiddenscope serve FOLDER` on a free port, started and waited for; `stop()` ends it."""

    def __init__(self, folder: Path, log: Path | None = None, start_s: float = 60):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log or Path(folder).parent / f"serve-{self.port}.log"
        exe = Path(sys.executable).with_name("hiddenscope")
        cmd = [str(exe), "serve", str(folder), "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("wb") as out:  # the child keeps its own copy of the handle
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        self._wait(start_s)

    def _wait(self, start_s: float) -> None:
        deadline = time.monotonic() + start_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"hiddenscope serve exited with {self.proc.returncode}:\n{self.log.read_text()}"
                )
            try:
                get_json(f"{self.url}/api/v1/datasets")
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"hiddenscope serve did not answer within {start_s} s:\n{self.log.read_text()}"
        )

    def api(self, path: str, **params):
        """GET /api/v1{path} with params (lists comma-joined) and return the JSON."""
        query = "&".join(
            f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in params.items()
        )
        return get_json(f"{self.url}/api/v1{path}?{query}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
