"""Results: the targets of issue 5, the machine, the JSON record and the BENCHMARKS.md table."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.workload import Scenario

# Issue 5's targets on this machine (1 000 000 products, wrk -t2 -c16).
# ratio: app/baseline at least, the baseline being the lean one (bench/lean_app.py, issue 13)
# where the scenario has one, else the bare replay (bench/bare_app.py); rps: absolute aim;
# p99: bound in ms; lost: cart adds (or orders)
# answered 201 but not in the database.
TARGETS: dict[str, dict[str, float]] = {
    "list-category": {"ratio": 0.7, "rps": 1500, "p99": 50},
    "list-broad": {"ratio": 0.7, "rps": 1000, "p99": 80},
    "search-common": {"ratio": 0.7, "rps": 300, "p99": 150},
    # Issue 13: at least half the req/s of search-common in the same run (`share`).
    "search-common-filtered": {"share": 0.5, "p99": 150},
    "search-rare": {"ratio": 0.7, "rps": 500, "p99": 100},
    "search-typo": {"ratio": 0.7, "rps": 500, "p99": 100},
    "deep-page": {"p99": 100},
    "detail": {"ratio": 0.8, "rps": 2500, "p99": 30},
    "cart-add": {"ratio": 0.7, "rps": 1000, "p99": 50, "lost": 0},
    "cart-get": {},
    # Signed-in reads: the sign-in lookup and the customer, against the same SQL run bare.
    "account": {"ratio": 0.6, "p99": 50},
    # Issue 13: against the same SQL rendered by one plain Jinja template.
    "page-catalog": {"ratio": 0.5, "rps": 800},
    # Issue "2/4 Checkout and orders": orders/s against a bare baseline doing the same transaction.
    "checkout": {"ratio": 0.6, "lost": 0},
}
# The scenario a `share` target is measured against, in the same run.
SHARE_OF = {"search-common-filtered": "search-common"}
SEED_SECONDS_AIM = 120
WORKER_RSS_AIM_MB = 150
MARKER = "<!-- bench/harness.py adds each full run below this line, newest first -->"


def machine(dsn: str, gunicorn: dict[str, Any]) -> dict[str, Any]:
    """What the numbers were measured on."""
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")), "")
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kb = next(int(ln.split()[1]) for ln in meminfo if ln.startswith("MemTotal"))
    with psycopg.connect(dsn) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        shared_buffers = conn.execute("SHOW shared_buffers").fetchone()[0]
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    git = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return {
        "commit": git.stdout.strip() or "unknown",
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "postgresql": version,
        "shared_buffers": shared_buffers,
        "python": platform.python_version(),
        "wrk": (wrk.stdout or wrk.stderr).split("\n")[0].split(" Copyright")[0],
        "gunicorn": {k: gunicorn.get(k) for k in ("worker_class", "workers", "threads")},
        "loadavg_at_start": os.getloadavg(),
    }


def product_count(dsn: str) -> int:
    """How many products the catalog holds."""
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM products").fetchone()[0]


def _ratio(numerator: float, denominator: float | None) -> float | None:
    return round(numerator / denominator, 3) if denominator else None


def misses(target: dict[str, float], row: dict[str, Any]) -> list[str]:
    """Which of its targets a scenario missed (empty: all met)."""
    app, missed = row["app"], []
    if "ratio" in target and (row["app_base"] or 0) < target["ratio"]:
        missed.append("ratio")
    if "rps" in target and app["rps"] < target["rps"]:
        missed.append("req/s")
    if "p99" in target and app["latency_ms"]["p99"] > target["p99"]:
        missed.append("p99")
    if "lost" in target and app.get("lost", 0) > target["lost"]:
        missed.append("lost")
    return missed


def compare_shares(rows: list[dict[str, Any]]) -> None:
    """Check `share` targets against the other scenario of the same run (when it ran)."""
    by_name = {row["scenario"]: row for row in rows}
    for row in rows:
        base = by_name.get(SHARE_OF.get(row["scenario"], ""))
        if "share" not in row["target"] or base is None:
            continue
        row["share_of"] = base["scenario"]
        row["app_share"] = _ratio(row["app"]["rps"], base["app"]["rps"])
        if (row["app_share"] or 0) < row["target"]["share"]:
            row["missed"].append("share")


def _pair_ratio(pair: dict[str, float]) -> float | None:
    """app/baseline of one paired round (its baseline is `lean` or `bare`)."""
    return _ratio(pair["app"], pair["lean"] if "lean" in pair else pair["bare"])


def paired_ratio(pairs: list[dict[str, float]] | None) -> float | None:
    """The median app/baseline ratio of the paired rounds (None without any)."""
    ratios = [_pair_ratio(pair) for pair in pairs or ()]
    ratios = [ratio for ratio in ratios if ratio is not None]
    return round(statistics.median(ratios), 3) if ratios else None


def scenario_row(
    scenario: Scenario, fixture, app, bare, raw, lean=None, pairs=None
) -> dict[str, Any]:
    """One scenario's record: the measurements, their ratios, what the app sent.

    `lean` is the lean baseline's run (None for a scenario without one), `bare` the replay's
    (None when it was skipped), `pairs` the req/s of the paired rounds (the app and its
    baseline in turn). The targets' ratio is app/lean where there is a lean run, else
    app/bare: the median of the paired rounds' when they ran, else the one of the scenario's
    own runs."""
    app_bare = _ratio(app["rps"], bare["rps"]) if bare else None
    app_lean = _ratio(app["rps"], lean["rps"]) if lean else None
    app_paired = paired_ratio(pairs)
    row = {
        "scenario": scenario.name,
        "request": scenario.request,
        "available": fixture["available"],
        "target": TARGETS[scenario.target],
        "app": app,
        "lean": lean,
        "bare": bare,
        "raw": raw,
        "baseline": "lean" if lean else "bare",
        "app_lean": app_lean,
        "pairs": pairs,
        "app_paired": app_paired,
        "app_bare": app_bare,
        "app_base": app_paired or (app_lean if lean else app_bare),
        "app_raw": _ratio(app["rps"], raw["tps"] if raw else None),
        "pool_size": fixture["pool_size"],
        "bare_mode": fixture.get("bare", "replay"),
        "lean_check": fixture.get("lean_check"),
        "capture_statuses": fixture["capture_statuses"],
        "statements_per_request": fixture["statements_per_request"],
        "explain": fixture["explain"],
    }
    row["missed"] = misses(row["target"], row)
    return row


def save(results: dict[str, Any], out: Path, keep_dir: Path, keep: bool) -> Path:
    """Write the results JSON to `out` (and, for a full run, to `keep_dir` to be committed)."""
    text = json.dumps(results, indent=1, ensure_ascii=False, default=str)
    path = out / f"results-{results['mode']}.json"
    path.write_text(text)
    if keep:
        keep_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(results["started"]))
        path = keep_dir / f"{stamp}.json"
        path.write_text(text)
    return path


def _n(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}".replace(",", "\u202f")


def _target_text(target: dict[str, float], baseline: str = "bare") -> str:
    parts = []
    if "ratio" in target:
        parts.append(f"≥{target['ratio']}× {baseline}")
    if "share" in target:
        parts.append(f"≥{target['share']}× the unfiltered search's req/s")
    if "rps" in target:
        parts.append(f"≥{_n(target['rps'])}/s")
    if "p99" in target:
        parts.append(f"p99 ≤{_n(target['p99'])} ms")
    if "lost" in target:
        parts.append("0 lost")
    return ", ".join(parts) or "—"


def _verdict(row: dict[str, Any], smoke: bool) -> str:
    if row.get("lean_check"):
        return "not counted: the lean baseline answers otherwise (see problems)"
    if not row["available"]:
        return "not served by the app (see statuses)"
    if smoke or not row["target"]:
        return "—"
    return "met" if not row["missed"] else "missed: " + ", ".join(row["missed"])


def _paired_cell(pairs: list[dict[str, float]] | None) -> str:
    """The paired rounds' median ratio and each round's, e.g. `0.84 (0.81, 0.84, 0.90)`."""
    if not pairs:
        return "—"
    each = ", ".join(_n(_pair_ratio(pair), 2) for pair in pairs)
    return f"{_n(paired_ratio(pairs), 2)} ({each})"


def _row_line(row: dict[str, Any], smoke: bool) -> str:
    app, lean, bare, raw = row["app"], row.get("lean"), row["bare"], row["raw"]
    ms = app["latency_ms"]
    errors = app["socket_errors"] + app["timeouts"]
    lost = f", {app['lost']} lost" if "lost" in app else ""
    cells = [
        row["scenario"],
        _n(app["rps"]),
        f"{_n(ms['p50'], 1)} / {_n(ms['p95'], 1)} / {_n(ms['p99'], 1)}",
        f"{app['non_2xx']} / {errors}{lost}",
        _n(app["worker_peak_rss_mb"]),
        _n(lean["rps"]) if lean else "—",
        _n(bare["rps"]) if bare else "—",
        _n(raw["tps"]) if raw else "—",
        _n(row.get("app_lean"), 2),
        _paired_cell(row.get("pairs")),
        _n(row["app_bare"], 2),
        _n(row["app_raw"], 2),
        _target_text(row["target"], row.get("baseline", "bare")),
        _verdict(row, smoke),
    ]
    return "| " + " | ".join(cells) + " |"


def _where_time_goes(row: dict[str, Any]) -> str:
    """A one-line reading of a missed row: the database's share against the app's own."""
    times = row["explain"]["execution_ms"]
    db_ms = max((sum(ms) for ms in times), default=0.0)
    slowest = max((max(ms) for ms in times if ms), default=0.0)
    app, raw = row["app"], row["raw"]
    reading = (
        f"EXPLAIN ANALYZE: {db_ms:.1f} ms of SQL per request (slowest statement {slowest:.1f} ms)"
        f", app p50 {app['latency_ms']['p50']:.1f} ms; "
    )
    if raw and row["app_raw"] and row["app_raw"] >= 0.6:
        reading += "the app gets most of what PostgreSQL gives on this SQL: the SQL is the limit."
    elif row.get("app_lean") is not None and row["app_base"] < (row["target"].get("ratio") or 0.7):
        replay = ""
        if row["app_bare"]:
            replay = f", the replay of the app's own SQL {1 / row['app_bare']:.1f}×"
        reading += (
            f"the lean baseline (the obvious SQL) is {1 / row['app_base']:.1f}× faster{replay}: "
            "the gap to the replay is the app's code, the rest the SQL it chose."
        )
    elif row["app_bare"] is not None and row["app_base"] < (row["target"].get("ratio") or 0.7):
        reading += (
            f"the bare baseline runs the same SQL {1 / row['app_base']:.1f}× faster: "
            "the app's own code is the limit."
        )
    elif raw and row["bare"] and row["bare"]["rps"] < 0.5 * raw["tps"]:
        reading += (
            "app and bare are close but both far below pgbench: the cost is in what both do "
            "per request (round trips, parameters, planning, rows to Python), not in execution."
        )
    else:
        reading += "app, bare and pgbench are close: the SQL and the machine are the limit."
    return f"- **{row['scenario']}** ({', '.join(row['missed'])}): {reading}"


def _pairs_text(settings: dict[str, Any]) -> str:
    pairs = settings.get("pairs") or 0
    if not pairs:
        return "no paired rounds"
    seconds = settings["pair_seconds"]
    return f"{pairs} paired rounds of {seconds:g} s (app, baseline) per scenario with a ratio"


def markdown(results: dict[str, Any]) -> str:
    """This run as a BENCHMARKS.md section: machine, settings, the table, what was missed."""
    smoke = results["mode"] == "smoke"
    m, s = results["machine"], results["settings"]
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(results["started"]))
    g = m["gunicorn"]
    lines = [
        f"## {when} · {results['mode']} run · {_n(results['products'])} products",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram_gib']} GiB RAM, PostgreSQL "
        f"{m['postgresql']} (shared_buffers {m['shared_buffers']}), Python {m['python']}; "
        f"gunicorn {g['worker_class']} {g['workers']} workers × {g['threads']} threads; "
        f"{m['wrk']} -t{s['threads']} -c{s['connections']} -d{s['seconds']:g}s "
        f"(+{s['warmup_seconds']:g} s warm-up), pgbench -M prepared -c{s['connections']} "
        f"-j{s['threads']} -T{s['pgbench_seconds']:g}; {_pairs_text(s)}; load average at start "
        f"{m['loadavg_at_start'][0]:.2f}; whole run {results['minutes']:.1f} min; "
        f"code at {m.get('commit', 'unknown')}.",
        "",
        "| scenario | app req/s | p50 / p95 / p99 ms | non-2xx / errors | worker peak RSS MB "
        "| lean req/s | replay req/s | raw PG tps | app/lean | app/baseline paired, median (each) "
        "| app/replay | app/raw | target | result |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|",
    ]
    lines += [_row_line(row, smoke) for row in results["scenarios"]]
    seed = results["seed_seconds"]
    seed_ok = "—" if smoke or seed is None else ("met" if seed <= SEED_SECONDS_AIM else "missed")
    rss, hwm = results["worker_rss_after_mb"], results["worker_hwm_after_mb"]
    rss_ok = "—" if smoke else ("met" if rss <= WORKER_RSS_AIM_MB else "missed")
    seed_cell = f"{seed:.0f} s" if seed is not None else "not measured"
    lines += [
        f"| seed {_n(results['products'])} | {seed_cell} | | | | | | | | | | "
        f"| ≤{SEED_SECONDS_AIM} s (1M, indexes included) | {seed_ok} |",
        f"| worker RSS after all scenarios | {rss:.0f} MB (peak {hwm:.0f})"
        f" | | | | | | | | | | | ≤{WORKER_RSS_AIM_MB} MB | {rss_ok} |",
        "",
    ]
    missed = [row for row in results["scenarios"] if row["missed"] and row["available"]]
    if missed and not smoke:
        lines += ["Where the time goes (from this run's EXPLAIN ANALYZE and ratios):", ""]
        lines += [_where_time_goes(row) for row in missed] + [""]
    if results["problems"]:
        lines += ["Harness problems: " + "; ".join(results["problems"]), ""]
    return "\n".join(lines)


HEADER = """# Benchmarks

What `make bench` measured, newest run first. How it works and how to read it:
[bench/README.md](bench/README.md).

"""


def prepend(path: Path, section: str) -> None:
    """Insert `section` under the marker of `path` (made with its header when missing)."""
    text = path.read_text() if path.exists() else HEADER + MARKER + "\n"
    if MARKER not in text:
        text = text.rstrip("\n") + "\n\n" + MARKER + "\n"
    head, _, tail = text.partition(MARKER)
    older = tail.lstrip("\n")
    path.write_text(
        head + MARKER + "\n\n" + section.rstrip("\n") + "\n" + ("\n" + older if older else "")
    )
