"""Real servers (gunicorn, nginx) for tests: a free port, a wait until ready, a sure stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def live_process(
    command: list[str],
    env: dict[str, str],
    log_path: Path,
    is_ready: Callable[[], bool],
    startup_seconds: float = 20,
    name: str = "gunicorn",
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` from the repository root until the block ends; fail if it never gets ready.

    `is_ready` is polled (an OSError counts as "not yet"); the log is shown on failure.
    """
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
        )
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            if process.poll() is not None:
                pytest.fail(f"{name} exited early:\n{log_path.read_text()}")
            try:
                if is_ready():
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{name} did not get ready:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
