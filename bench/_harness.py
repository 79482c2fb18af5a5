"""Shared by the benchmarks: machine facts, and one result file + one summary line per benchmark."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

# BENCH_RESULTS_DIR: write the JSON elsewhere (a smoke run at reduced size must not replace the
# quiet-machine figures); BENCH_MACHINE=loaded: record that the machine was shared while measuring.
RESULTS = Path(os.environ.get("BENCH_RESULTS_DIR") or Path(__file__).resolve().parent / "results")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **({"state": os.environ["BENCH_MACHINE"]} if os.environ.get("BENCH_MACHINE") else {}),
    }


def report(name: str, *, ours: float, anchor: float, unit: str, target: str, summary: str, **extra) -> dict:
    """Write `bench/results/<name>.json` and print the one-line summary; ratio is ours / anchor."""
    result = {
        "ours": ours,
        "anchor": anchor,
        "ratio": ours / anchor if anchor else None,
        "unit": unit,
        "target": target,
        **extra,
        "machine": machine(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(
        f"{name}: {summary} | ours {ours:,.1f} {unit}, anchor {anchor:,.1f} {unit}, "
        f"ratio {result['ratio']:.2f} (target {target})"
    )
    return result
