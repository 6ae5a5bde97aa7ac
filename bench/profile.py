"""Where a worker's time goes under load: py-spy on every gunicorn worker while wrk runs.

Used by the harness for the scenarios named in BENCH_PROFILE (after their measured runs, so
the sampling never touches a measured figure). The raw stacks are summed up by layer (the
package a frame belongs to) and by function, counting each function once per stack.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

from bench.servers import ROOT

FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")
# Layers worth telling apart; anything else is "other".
LAYERS = (
    "storefront",
    "sqlalchemy",
    "flask_sqlalchemy",
    "psycopg_pool",
    "psycopg",
    "flask_cors",
    "flask_wtf",
    "flask_babel",
    "babel",
    "jinja2",
    "markupsafe",
    "werkzeug",
    "flask",
    "simplejson",
    "pydantic",
    "gunicorn",
)


def py_spy() -> str | None:
    """The py-spy binary (`pip install py-spy` into the venv), or None."""
    local = ROOT / ".venv" / "bin" / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def record(pids: list[int], seconds: int, out: Path) -> list[Path]:
    """Start py-spy on each pid (raw collapsed stacks, idle threads left out); wait for all."""
    binary = py_spy()
    if binary is None:
        raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
    files, processes = [], []
    for pid in pids:
        path = out.with_name(f"{out.stem}-{pid}.txt")
        files.append(path)
        command = [binary, "record", "--pid", str(pid), "--duration", str(seconds)]
        # --gil: only the thread holding the GIL is sampled, i.e. Python's CPU time; waits on
        # the database and the socket (which release it) are left out.
        command += ["--rate", "200", "--gil", "--format", "raw", "--output", str(path)]
        processes.append(
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
    for process in processes:
        process.wait(timeout=seconds + 60)
    return [path for path in files if path.exists()]


def _layer(path: str) -> str:
    # py-spy shortens paths to the import path: "flask/app.py", "threading.py".
    top = Path(path).parts[0] if "/" in path else ""
    if top in LAYERS:
        return top
    return "storefront" if "/storefront/" in path else "python (stdlib, other)"


def summarise(files: list[Path], top: int = 20) -> dict[str, list[tuple[str, float]]]:
    """Shares of the samples: by layer and by function of the innermost frame (self time),
    and by function anywhere in the stack (inclusive time; the standard library left out)."""
    by_layer: Counter[str] = Counter()
    by_self: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for path in files:
        for line in path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            frames = [m for frame in stack.split(";") if (m := FRAME.match(frame))]
            if not frames or not count_text.isdigit():
                continue
            count = int(count_text)
            total += count
            innermost = frames[-1]
            by_layer[_layer(innermost["file"])] += count
            by_self[f"{innermost['function']} ({innermost['file']})"] += count
            seen = {
                f"{frame['function']} ({frame['file']})"
                for frame in frames
                if not _layer(frame["file"]).startswith("python")
            }
            for name in seen:
                inclusive[name] += count

    def shares(counter: Counter[str], limit: int | None = None) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(limit)]

    if not total:
        return {"samples": [], "layers": [], "self": [], "inclusive": []}
    return {
        "samples": [("samples", total)],
        "layers": shares(by_layer),
        "self": shares(by_self, top),
        "inclusive": shares(inclusive, top),
    }


def text(summary: dict[str, list[tuple[str, float]]]) -> str:
    """The summary as plain text."""
    total = summary["samples"][0][1] if summary["samples"] else 0
    lines = [f"py-spy --gil: {total} samples of the thread holding the GIL (Python CPU time)"]
    for key, title in (
        ("layers", "self time by layer"),
        ("self", "self time by function"),
        ("inclusive", "inclusive time by function"),
    ):
        lines += ["", f"{title}:"]
        lines += [f"  {share:5.1f}%  {name}" for name, share in summary[key]]
    return "\n".join(lines) + "\n"
