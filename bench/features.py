"""Feature extraction windows/s: our vectorised extraction versus plain `tsfresh.extract_features`.

Both get the same 2 400 day windows of 288 five-minute samples (80 Knudjepsen-like series × 30
days: diurnal temperature, radiation with night zeros, 0/1 lamps, humidity, CO2 dosing, a held
setpoint; 3 % of readings missing) and the same curated settings. Ours starts from the sparse
long rows the asset reads from TimescaleDB and includes gridding, gap filling and the long output
rows; the anchor gets the gap-filled windows ready-made in tsfresh's long format and runs with
`n_jobs` = all cores. The values are compared (≤ 1e-9 relative) before the figures are reported.

Ours takes about a tenth of a second, so one timing is mostly noise: BENCH_FEATURES_ROUNDS (default 9)
interleaved rounds (ours then tsfresh, then tsfresh then ours, ...), and the figures are the medians.
Each contender's first call in the process pays one-time costs (polars' and NumPy's thread pools,
first-use imports inside tsfresh): it is reported beside them (`first_call_seconds`, what a run
process that extracts once pays) and kept out of the medians.
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import polars as pl
from _harness import report
from tsfresh import extract_features

from greenhouse_assets.features.calculators import CURATED_FC_PARAMETERS
from greenhouse_assets.features.extract import ExtractionSpec, extract
from greenhouse_assets.features.windows import DAY, build

SERIES, DAYS, SAMPLES = 80, 30, 288
START = datetime(2014, 1, 1, tzinfo=UTC)
ROUNDS = int(os.environ.get("BENCH_FEATURES_ROUNDS", 9))


def measurements(seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n = DAYS * SAMPLES
    frac = (np.arange(n) % SAMPLES) / SAMPLES
    values = []
    for i in range(SERIES):
        kind, amplitude = i % 6, rng.uniform(0.5, 1.5)
        if kind == 0:
            x = 19 + 4 * amplitude * np.sin(2 * np.pi * (frac - 0.3)) + np.cumsum(rng.normal(0, 0.05, n)) % 3
        elif kind == 1:
            x = np.maximum(0.0, 600 * amplitude * np.sin(2 * np.pi * (frac - 0.25)) + rng.normal(0, 20, n))
        elif kind == 2:
            x = ((frac > 0.1) & (frac < 0.1 + 0.4 * amplitude)).astype(float)
        elif kind == 3:
            x = np.round(70 + 10 * np.cos(2 * np.pi * frac) + rng.normal(0, 2, n), 1)
        elif kind == 4:
            x = np.full(n, 21.5)
        else:
            x = 400 + 300 * (rng.random(n) < 0.3) + rng.normal(0, 5, n)
        values.append(x)
    keep = rng.random(SERIES * n) > 0.03
    seconds = np.tile(np.arange(n) * 300, SERIES) + int(START.timestamp())
    return pl.DataFrame(
        {
            "time": (seconds[keep] * 1_000_000).astype("datetime64[us]"),
            "site": "bench",
            "zone": np.repeat([f"zone{i // 20}" for i in range(SERIES)], n)[keep],
            "variable": np.repeat([f"var{i % 20}" for i in range(SERIES)], n)[keep],
            "value": np.concatenate(values)[keep],
        }
    ).with_columns(pl.col("time").dt.replace_time_zone("UTC"))


def main() -> None:
    rows = measurements()
    days = [START + pd.Timedelta(days=d) for d in range(DAYS)]
    spec = ExtractionSpec(specs=[DAY], min_coverage=0.8, domain=False)

    batch = build(rows, days, [DAY], 0.8).batches[SAMPLES]
    frame = pd.DataFrame(
        {
            "id": np.repeat(np.arange(len(batch.values)), SAMPLES),
            "t": np.tile(np.arange(SAMPLES), len(batch.values)),
            "value": batch.values.ravel(),
        }
    )

    contenders = {
        "ours": lambda: extract(rows, days, spec),
        "anchor": lambda: extract_features(
            frame,
            column_id="id",
            column_sort="t",
            default_fc_parameters=CURATED_FC_PARAMETERS,
            n_jobs=os.cpu_count(),
            disable_progressbar=True,
        ).sort_index(),
    }
    first_call_seconds = {}
    for name in ("ours", "anchor"):
        started = time.perf_counter()
        contenders[name]()
        first_call_seconds[name] = time.perf_counter() - started
    timings: dict[str, list[float]] = {"ours": [], "anchor": []}
    results = {}
    for round_ in range(ROUNDS):
        for name in ("ours", "anchor") if round_ % 2 == 0 else ("anchor", "ours"):
            started = time.perf_counter()
            results[name] = contenders[name]()
            timings[name].append(time.perf_counter() - started)
    ours, anchor = results["ours"], results["anchor"]
    ours_seconds, anchor_seconds = (statistics.median(timings[name]) for name in ("ours", "anchor"))
    windows = ours.windows.filter(status="computed").height

    keys = batch.keys.with_row_index("id").select("id", "window_start", "zone", "variable")
    long = (
        pl.from_pandas(anchor.rename(columns=lambda c: c.removeprefix("value__")).reset_index(drop=True))
        .with_row_index("id")
        .unpivot(index="id", variable_name="feature", value_name="expected")
        .join(keys, on="id")
        .join(ours.features, on=["window_start", "zone", "variable", "feature"])
    )
    expected, got = long["expected"].fill_nan(None), long["value"]
    assert long.height == windows * anchor.shape[1], "ours and tsfresh computed different windows or features"
    assert (expected.is_null() == got.is_null()).all(), "NaN pattern differs from tsfresh"
    both = long.filter(pl.col("expected").is_not_nan() & pl.col("value").is_not_null())
    rel = ((both["value"] - both["expected"]).abs() / both["expected"].abs().clip(lower_bound=1e-300)).max() or 0.0
    assert rel <= 1e-9, f"max relative error {rel}"

    report(
        "features",
        ours=windows / ours_seconds,
        anchor=windows / anchor_seconds,
        unit="windows/s",
        target="ratio >= 20",
        summary=f"{windows:,} day windows × {anchor.shape[1]} features: ours {ours_seconds:.2f} s (1 process, numpy threads) vs "
        f"tsfresh {anchor_seconds:.2f} s (n_jobs={os.cpu_count()}), medians of {ROUNDS} interleaved rounds after "
        f"each one's first call ({first_call_seconds['ours']:.2f} s vs {first_call_seconds['anchor']:.2f} s), "
        f"max relative difference {rel:.1e}",
        windows=windows,
        samples_per_window=SAMPLES,
        features=anchor.shape[1],
        ours_seconds=ours_seconds,
        anchor_seconds=anchor_seconds,
        first_call_seconds=first_call_seconds,
        rounds=[{"ours_seconds": o, "anchor_seconds": a} for o, a in zip(timings["ours"], timings["anchor"])],
        max_relative_error=rel,
        tsfresh_n_jobs=os.cpu_count(),
    )


if __name__ == "__main__":
    main()
