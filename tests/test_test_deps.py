"""scripts/test-deps: which system tools the suites lack, and what it would install.

Nothing here installs or removes a package: tools are hidden through TEST_DEPS_PATH (where the
script looks for them) and the script runs with --dry-run.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

TEST_DEPS = Path(__file__).resolve().parent.parent / "scripts" / "test-deps"
INSTALL = "apt-get install -y --no-install-recommends"


def run_test_deps(tool_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run scripts/test-deps looking for chromium and nginx in `tool_dir` only."""
    env = {**os.environ, "TEST_DEPS_PATH": str(tool_dir)}
    return subprocess.run([TEST_DEPS, *args], env=env, capture_output=True, text=True, timeout=60)


def test_it_says_what_is_missing_and_what_it_would_install(tmp_path: Path) -> None:
    result = run_test_deps(tmp_path, "--dry-run", "chromium", "nginx")
    assert result.returncode == 1
    assert "chromium: missing (package chromium)" in result.stderr
    assert "nginx: missing (package nginx-light)" in result.stderr
    if os.geteuid() == 0:
        assert "would install with apt-get: chromium nginx-light" in result.stderr
    else:
        assert f"not root, so not installing; to install: {INSTALL} chromium nginx-light" in (
            result.stderr
        )


def test_the_environment_can_make_any_run_a_dry_run(tmp_path: Path) -> None:
    """TEST_DEPS_DRY_RUN=1 is how `make test` as root runs without installing anything."""
    env = {**os.environ, "TEST_DEPS_PATH": str(tmp_path), "TEST_DEPS_DRY_RUN": "1"}
    result = subprocess.run(
        [TEST_DEPS, "chromium"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "installing with apt-get" not in result.stderr
    assert "chromium: missing (package chromium)" in result.stderr


def test_it_finds_what_is_there(tmp_path: Path) -> None:
    nginx = tmp_path / "nginx"
    nginx.write_text("#!/bin/sh\n")
    nginx.chmod(0o755)
    result = run_test_deps(tmp_path, "--dry-run", "nginx")
    assert result.returncode == 0, result.stderr
    assert result.stderr == f"test-deps: nginx: {nginx}\n"


def test_postgresql_is_looked_for_where_throwaway_pg_looks(tmp_path: Path) -> None:
    """PG_BINDIR names the only place; the script never installs over a place one chose."""
    env = {**os.environ, "PG_BINDIR": str(tmp_path)}
    result = subprocess.run(
        [TEST_DEPS, "postgresql"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert f"postgresql: missing from PG_BINDIR={tmp_path}" in result.stderr
    assert "apt-get" not in result.stderr
