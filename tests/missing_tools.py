"""Which tests were skipped for want of a system tool, for the last line of `make test`.

A suite that needs a tool the machine may lack skips, whole or test by test, with the reason
"<tool> is not installed: apt-get install … <package>" (tests/browser/conftest.py,
tests/live/test_scale_out.py). This plugin collects those skips and, when SKIPPED_SUMMARY_FILE
is set, writes there one line naming what was skipped and the one command that installs every
missing tool; scripts/run-tests prints it last, after the throwaway PostgreSQL has stopped.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable

import pytest

REASON = re.compile(r"^(?:Skipped: )?(?P<tool>\S+) is not installed: apt-get install (?P<args>.+)$")
NOTHING_SKIPPED = "no tests skipped for a missing tool"


def missing_tool(report: pytest.CollectReport | pytest.TestReport) -> tuple[str, str, str] | None:
    """(tool, package, test file) when `report` is a skip for want of a tool, else None."""
    if not report.skipped or not isinstance(report.longrepr, tuple):
        return None
    match = REASON.match(report.longrepr[2])
    if not match:
        return None
    packages = [word for word in match["args"].split() if not word.startswith("-")]
    return match["tool"], " ".join(packages), report.nodeid.split("::")[0]


def summary(skips: Iterable[tuple[str, str, str]]) -> str:
    """One line: what was skipped, for want of which tool, and the command that installs them."""
    paths: dict[str, set[str]] = {}
    packages: dict[str, str] = {}
    for tool, package, path in skips:
        paths.setdefault(tool, set()).add(path)
        packages[tool] = package
    if not paths:
        return NOTHING_SKIPPED
    suites = {}
    for tool, files in paths.items():
        # A directory's worth of files reads as the directory: "tests/browser/".
        common = posixpath.commonpath(files)
        suites[tool] = common if common in files else common + "/"
    tools = sorted(suites, key=suites.get)  # by path, not by when pytest reported the skip
    named = ", ".join(f"{suites[tool]} (no {tool})" for tool in tools)
    command = " ".join(["apt-get install -y --no-install-recommends", *map(packages.get, tools)])
    return f"skipped: {named} — install: {command}"


class MissingTools:
    """Collects the skips for want of a tool; writes the summary when the session ends."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.skips: list[tuple[str, str, str]] = []

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if skip := missing_tool(report):
            self.skips.append(skip)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if skip := missing_tool(report):
            self.skips.append(skip)

    def pytest_sessionfinish(self) -> None:
        with open(self.path, "w", encoding="utf-8") as file:
            file.write(summary(self.skips) + "\n")


def pytest_configure(config: pytest.Config) -> None:
    """Collect only for scripts/run-tests, which names the file (a bare pytest writes nothing)."""
    if path := os.environ.get("SKIPPED_SUMMARY_FILE"):
        config.pluginmanager.register(MissingTools(path), "missing-tools-summary")
