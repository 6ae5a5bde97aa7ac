"""The servers under test: gunicorn with the production config file, and their workers' memory."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"


def _no_control_socket() -> list[str]:
    """gunicorn 24+ opens a control socket at one path per user: two servers (or someone
    else's gunicorn) would fight over it, and the benchmark needs none."""
    from gunicorn.config import KNOWN_SETTINGS

    known = {setting.name for setting in KNOWN_SETTINGS}
    return ["--no-control-socket"] if "control_socket_disable" in known else []


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _established_inodes(port: int) -> set[str]:
    """The sockets (as /proc/PID/fd links name them) of established IPv4 connections to `port`."""
    found = set()
    try:
        with open("/proc/net/tcp") as table:
            next(table)
            for line in table:
                fields = line.split()
                # local address is HEX_IP:HEX_PORT; state 01 is ESTABLISHED.
                if fields[3] == "01" and int(fields[1].rpartition(":")[2], 16) == port:
                    found.add(f"socket:[{fields[9]}]")
    except OSError:
        pass
    return found


def _status_kb(pid: int, field_name: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass  # the worker is gone (restarted): it no longer counts
    return 0


@dataclass
class Server:
    """One gunicorn master (the config from gunicorn.conf.py, bound to 127.0.0.1 only)."""

    name: str
    wsgi_app: str
    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        """Start gunicorn and wait until it answers /healthz."""
        command = [
            str(GUNICORN),
            "--config",
            str(ROOT / "gunicorn.conf.py"),
            # The config binds 0.0.0.0 for containers; the benchmark stays on the loopback.
            "--bind",
            f"127.0.0.1:{self.port}",
            *_no_control_socket(),
            # Each worker its own listening socket (SO_REUSEPORT): the kernel spreads wrk's
            # keep-alive connections over the workers by their addresses. On the shared socket
            # whichever worker wakes first takes them, and a run could start with all 16 on one
            # worker, at about half the req/s (BENCHMARKS.md, 2026-12-04). Both servers run so;
            # production keeps the shared socket (a reload there resets no connection).
            "--reuse-port",
            self.wsgi_app,
        ]
        with open(self.log, "ab") as log:
            # The access log (stdout) is still formatted, as in production, but not kept: a
            # 20 s run writes tens of thousands of lines.
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.log}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200 and len(self.workers()) > 0:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer /healthz in {timeout:.0f} s")

    def workers(self) -> list[int]:
        """The worker processes' ids (children of the master)."""
        if self.process is None:
            return []
        pid = self.process.pid
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as children:
                return [int(child) for child in children.read().split()]
        except OSError:
            return []

    def memory(self) -> dict[int, tuple[int, int]]:
        """{worker pid: (VmRSS, VmHWM)} in KiB."""
        return {pid: (_status_kb(pid, "VmRSS"), _status_kb(pid, "VmHWM")) for pid in self.workers()}

    def connections(self) -> list[int]:
        """How many established TCP connections each worker holds, most first."""
        established = _established_inodes(self.port)
        counts = []
        for pid in self.workers():
            try:
                links = [
                    os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")
                ]
            except OSError:
                continue  # the worker is gone (restarted)
            counts.append(sum(link in established for link in links))
        return sorted(counts, reverse=True)

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL to the server's own process group if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


class MemorySampler:
    """Samples a server's workers while a load runs: the peak VmRSS seen, VmHWM at the end,
    and how wrk's connections were spread over the workers."""

    def __init__(self, server: Server, interval: float = 0.25) -> None:
        self.server = server
        self.interval = interval
        self.peak_rss_kb = 0
        self.hwm_kb = 0
        # wrk's connections per worker while it ran (keep-alive: they stay where they land).
        self.connections: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for rss, _ in self.server.memory().values():
                self.peak_rss_kb = max(self.peak_rss_kb, rss)
            connections = self.server.connections()
            # The fullest sample: at the end wrk closes them one by one.
            if sum(connections) > sum(self.connections):
                self.connections = connections
            self._stop.wait(self.interval)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for rss, hwm in self.server.memory().values():
            self.peak_rss_kb = max(self.peak_rss_kb, rss)
            self.hwm_kb = max(self.hwm_kb, hwm)
