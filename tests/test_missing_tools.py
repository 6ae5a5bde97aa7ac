"""`make test` on a machine without chromium or nginx: what it skips, says and would install.

Nothing here installs or removes a package: chromium is hidden with PATH (and TEST_DEPS_PATH,
where scripts/test-deps looks), and scripts/test-deps runs with TEST_DEPS_DRY_RUN=1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.missing_tools import NOTHING_SKIPPED, summary

ROOT = Path(__file__).resolve().parent.parent
INSTALL = "apt-get install -y --no-install-recommends"
CHROMIUM_REASON = f"chromium is not installed: {INSTALL} chromium"
NGINX_REASON = f"nginx is not installed: {INSTALL} nginx-light"


def environment(tmp_path: Path, **changes: str) -> dict[str, str]:
    """Our environment without the outer run's database and summary file, plus `changes`."""
    env = {k: v for k, v in os.environ.items() if k not in {"TEST_DATABASE_URL"}}
    env["SKIPPED_SUMMARY_FILE"] = str(tmp_path / "summary")
    env.update(changes)
    return env


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory under /tmp that other users can read (run as root, PostgreSQL runs as
    `postgres` and looks its commands up on our PATH; pytest's tmp_path is private)."""
    directory = Path(tempfile.mkdtemp(prefix="storefront-path-", dir="/tmp"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory)


def path_without(bin_dir: Path, *hidden: str) -> str:
    """A PATH with every command of this one except `hidden`, linked into `bin_dir`."""
    for directory in reversed(os.environ["PATH"].split(os.pathsep)):
        for command in Path(directory).glob("*") if Path(directory).is_dir() else ():
            if command.name not in hidden:
                (bin_dir / command.name).unlink(missing_ok=True)
                (bin_dir / command.name).symlink_to(command)
    return str(bin_dir)


def test_the_summary_names_each_skipped_suite_and_one_install_command() -> None:
    # As pytest reports them: a module skipped at collection before the tests skipped one by one.
    skips = [
        ("nginx", "nginx-light", "tests/live/test_scale_out.py"),
        ("chromium", "chromium", "tests/browser/test_csp.py"),
        ("chromium", "chromium", "tests/browser/test_shopping.py"),
        ("chromium", "chromium", "tests/browser/test_csp.py"),
    ]
    assert summary(skips) == (
        "skipped: tests/browser/ (no chromium), tests/live/test_scale_out.py (no nginx)"
        f" — install: {INSTALL} chromium nginx-light"
    )
    assert summary([]) == NOTHING_SKIPPED


def test_the_plugin_sees_whole_modules_and_single_tests_skipped(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_behind_nginx.py").write_text(
        f"import pytest\npytest.skip({NGINX_REASON!r}, allow_module_level=True)\n"
        "def test_never(): pass\n"
    )
    (suite / "test_in_a_browser.py").write_text(
        f"import pytest\n@pytest.mark.skip(reason={CHROMIUM_REASON!r})\ndef test_skipped(): pass\n"
        "def test_other_skip(): pytest.skip('not for a missing tool')\ndef test_runs(): pass\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "tests.missing_tools",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(suite),
            str(suite),
        ],
        cwd=ROOT,
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "summary").read_text() == (
        "skipped: test_behind_nginx.py (no nginx), test_in_a_browser.py (no chromium)"
        f" — install: {INSTALL} nginx-light chromium\n"
    )


@pytest.mark.timeout(180)
def test_make_test_without_chromium_ends_by_saying_what_it_skipped(
    tmp_path: Path, shared_dir: Path
) -> None:
    """scripts/run-tests, throwaway PostgreSQL and all: the summary comes after its shutdown."""
    path = path_without(shared_dir, "chromium")
    env = environment(
        tmp_path,
        PATH=path,
        TEST_DEPS_PATH=path,
        TEST_DEPS_DRY_RUN="1",
    )
    del env["SKIPPED_SUMMARY_FILE"]  # run-tests makes its own
    result = subprocess.run(
        [
            ROOT / "scripts" / "run-tests",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/browser/test_csp.py",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=170,
    )
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout
    assert "test-deps: chromium: missing (package chromium)" in lines
    assert "server stopped" in lines, "expected a throwaway PostgreSQL"
    assert lines[-1] == (
        f"run-tests: skipped: tests/browser/test_csp.py (no chromium) — install: {INSTALL} chromium"
    )
