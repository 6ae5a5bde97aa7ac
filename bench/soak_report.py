"""The soak's record: its section of BENCHMARKS.md, one subsection per full-length run."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

# Cookie sessions the soak fills carts for, and how long a full-length soak runs (seconds).
CART_SESSIONS = 300
FULL_SECONDS = 600

SOAK_HEADING = "## Soak"
SOAK_INTRO = f"""{SOAK_HEADING}

`make soak` ([bench/soak.py](bench/soak.py)): the app under its production server on a throwaway
PostgreSQL, one request pool mixed as shoppers mix them — browse 68 % (product detail 34, a
category's filtered list 24, the HTML catalog page 10), search 20 % (a model code 10, a common
word 5, a code with a typo 5), cart 10 % (add 6, read 3, clear 1, over {CART_SESSIONS} cookie
sessions), checkout 2 % (each order from a session of its own) — first unpaced (`-c16`, 20 s)
to measure the capacity for that mix, then paced at half of it for 10 minutes
(`bench/lua/paced.lua`: wrk's `delay()` hands out send times one interval apart, as wrk2 does;
`-c32`), the gunicorn workers' RSS sampled every 5 s. Passes with 0 errors (status ≥ 400,
socket errors, timeouts) and no worker's RSS growing more than 10 % from minute 2 to the end
(each a mean over 15 s). Runs are added below, oldest first, each with its mix.
"""


def _n(value: float, digits: int = 0) -> str:
    """A number with thin spaces between thousands, as the benchmark tables write them."""
    return f"{value:,.{digits}f}".replace(",", "\u202f")


def markdown(results: dict[str, Any]) -> str:
    """This run as a subsection of BENCHMARKS.md's Soak section."""
    m, soak, capacity, rss = (
        results["machine"],
        results["soak"],
        results["capacity"],
        results["rss"],
    )
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(results["started"]))
    g, s = m["gunicorn"], results["settings"]
    minutes = results["seconds"] / 60
    shortened = "" if results["seconds"] >= FULL_SECONDS else " (shortened)"
    latency = soak["latency_ms"]
    workers = ", ".join(
        f"{w['base_mb']:.1f} → {w['end_mb']:.1f} ({w['growth']:+.1%})"
        for w in rss["workers"].values()
    )
    verdict = (
        "met: 0 errors, growth ≤ 10 %"
        if not results["problems"]
        else "; ".join(results["problems"])
    )
    errors = soak["errors"]
    lines = [
        f"### {when} · {minutes:g} min{shortened} · {_n(results['products'])} products",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), PostgreSQL {m['postgresql']} (shared_buffers "
        f"{m['shared_buffers']}), Python {m['python']}; gunicorn {g['worker_class']} "
        f"{g['workers']} workers × {g['threads']} threads; {m['wrk']} -t{s['threads']} "
        f"-c{s['connections']} (capacity) / -c{results['paced_connections']} (paced); load "
        f"average before the soak "
        f"{results['loadavg_before_soak'][0]:.2f}; code at {m.get('commit', 'unknown')}.",
        "",
        "Mix (per cent): "
        + "; ".join(
            f"{group} {sum(weights.values())} ("
            + ", ".join(f"{name} {weight}" for name, weight in weights.items())
            + ")"
            for group, weights in results["mix"].items()
        )
        + ".",
        "",
        "| | |",
        "|---|--:|",
        f"| capacity for the mix (wrk unpaced, {capacity['duration_us'] / 1e6:.0f} s) "
        f"| {capacity['rps']:.0f} req/s |",
        f"| soak rate: target / achieved | {results['target_rps']:.0f} / {soak['rps']:.0f} req/s |",
        f"| requests in the soak | {_n(soak['requests'])} |",
        f"| orders placed in the soak | {_n(results.get('orders', 0))} |",
        f"| p50 / p95 / p99 / max ms | {_n(latency['p50'], 1)} / {_n(latency['p95'], 1)} / "
        f"{_n(latency['p99'], 1)} / {_n(latency['max'], 1)} |",
        f"| status ≥ 400 / socket errors / timeouts | {errors['status']} / "
        f"{errors['connect'] + errors['read'] + errors['write']} / {errors['timeout']} |",
        f"| worker RSS MB, minute {rss['base_at_s'] / 60:g} → end | {workers} |",
        f"| result | {verdict} |",
        "",
        "Largest worker RSS at the end of each minute, MB: "
        + ", ".join(f"{mb:.1f}" for mb in results["rss_per_minute_mb"])
        + ".",
    ]
    return "\n".join(lines) + "\n"


def append(path: Path, section: str) -> None:
    """Add `section` at the end of `path`'s Soak section (made when missing; it comes last)."""
    text = path.read_text() if path.exists() else ""
    if SOAK_HEADING not in text.splitlines():
        text = text.rstrip("\n") + "\n\n" + SOAK_INTRO
    path.write_text(text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n")
