"""Load generators: wrk against a server, pgbench against the database. Both bounded in time."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from glob import glob
from pathlib import Path

from sqlalchemy.engine import make_url

LUA = Path(__file__).resolve().parent / "lua" / "pool.lua"


@dataclass(frozen=True)
class LoadSettings:
    """How hard and how long each run loads the server (`-t2 -c16 -d20s` by default)."""

    threads: int = 2
    connections: int = 16
    seconds: float = 20
    warmup_seconds: float = 3
    timeout_seconds: int = 10
    pgbench_seconds: float = 10
    pgbench_warmup_seconds: float = 3


def wrk(
    url: str,
    pool: Path,
    settings: LoadSettings,
    seconds: float,
    count: bool,
    script: Path = LUA,
    script_args: tuple[str, ...] = (),
) -> dict:
    """Run wrk over `pool` for `seconds`; its done() summary, with latencies in ms.

    `script` is pool.lua or one built on it (paced.lua, which takes a rate in `script_args`).
    The summary's `once` counts the pool's once-lines sent and the requests that found none
    left (`overrun`: the pool was too small for the run; see pool.lua).
    """
    command = [
        "wrk",
        f"-t{settings.threads}",
        f"-c{settings.connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={settings.timeout_seconds}s",
        "-s",
        str(script),
        url,
        "--",
        str(pool),
        *script_args,
        f"threads={settings.threads}",
        *(["count"] if count else []),
    ]
    limit = seconds + settings.timeout_seconds + 30
    done = subprocess.run(command, capture_output=True, text=True, timeout=limit, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    result = json.loads(line.removeprefix("BENCH_JSON "))
    seconds_run = result["duration_us"] / 1e6
    latency = {key: value / 1000 for key, value in result.pop("latency_us").items()}
    errors = result["errors"]
    return {
        **result,
        "rps": result["requests"] / seconds_run if seconds_run else 0.0,
        "latency_ms": latency,
        # wrk counts status >= 400 in errors.status; socket errors and timeouts apart.
        "non_2xx": errors["status"],
        "socket_errors": errors["connect"] + errors["read"] + errors["write"],
        "timeouts": errors["timeout"],
    }


def pgbench_binary() -> str:
    """pgbench: from PATH (Debian's wrapper), else from the newest installed server."""
    found = shutil.which("pgbench") or next(
        iter(sorted(glob("/usr/lib/postgresql/*/bin/pgbench"), reverse=True)), None
    )
    if not found:
        raise RuntimeError("pgbench not found (it comes with the postgresql-15 package)")
    return found


def libpq_url(sqlalchemy_url: str) -> str:
    """A libpq URL (no `+psycopg`) for psycopg and pgbench."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(False)


PROGRESS = re.compile(r"^progress: ([\d.]+) s, ([\d.]+) tps, lat (\S+) ms", re.M)


def pgbench(
    dsn: str, script: Path, settings: LoadSettings, defines: dict[str, int] | None = None
) -> dict:
    """`pgbench -M prepared -n`, counted after a warm-up: tps, mean latency, failures.

    `defines` are the script's variables set before its first transaction (`-D name=value`).

    Each connection prepares a statement the first time it runs it; one run of warm-up plus
    measurement, read from its once-a-second progress reports, leaves that ramp out (as the
    servers' warm-up does for theirs).
    """
    clients = settings.connections
    warmup = max(1, round(settings.pgbench_warmup_seconds))
    seconds = max(1, round(settings.pgbench_seconds))
    command = [
        pgbench_binary(),
        "-M",
        "prepared",
        "-n",
        "-c",
        str(clients),
        "-j",
        str(min(settings.threads, clients)),
        # One second more: the last interval's progress report is not printed.
        "-T",
        str(warmup + seconds + 1),
        "-P",
        "1",
        *(f"-D{name}={value}" for name, value in (defines or {}).items()),
        "-f",
        str(script),
        dsn,
    ]
    # The app's connections run with JIT off (storefront/__init__.py): so do these.
    env = {**os.environ, "PGOPTIONS": "-c jit=off -c max_parallel_workers_per_gather=0"}
    limit = warmup + seconds + 120
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=limit, check=False, env=env
    )
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed ({done.returncode}): {done.stderr[-2000:]}")
    # An interval without a finished transaction reports "lat nan": it still counts, as 0 tps.
    progress = [
        (float(t), float(tps), float(lat) if float(tps) else 0.0)
        for t, tps, lat in PROGRESS.findall(done.stderr)
        if warmup < float(t) <= warmup + seconds
    ]
    failed = re.search(r"^number of failed transactions: (\d+)", done.stdout, re.M)
    if not progress:
        raise RuntimeError(f"no progress reports from pgbench:\n{done.stderr[-2000:]}")
    transactions = sum(tps for _, tps, _ in progress)
    return {
        "tps": transactions / len(progress),
        "latency_mean_ms": sum(tps * lat for _, tps, lat in progress) / transactions
        if transactions
        else None,
        "failed": int(failed.group(1)) if failed else 0,
        "seconds_counted": len(progress),
    }
