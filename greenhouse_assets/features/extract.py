"""From long measurements to long feature rows: windows, vectorised tsfresh set, tsfresh rest, domain.

The curated calculators run vectorised over each batch of equal-length windows, in chunks of
windows spread over one thread per core. Any calculator in the settings without a vectorised
version runs through `tsfresh.extract_features` on the same gap-filled windows, with `n_jobs`
processes. With a Dask scheduler address both halves run on that cluster: the chunks are mapped
over its workers, and tsfresh gets its `ClusterDaskDistributor`.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import polars as pl

from greenhouse_assets.features import calculators, domain
from greenhouse_assets.features.windows import DAY, ROLLING_24H, Batch, WindowSpec, build

FEATURE_SCHEMA = {
    "window_kind": pl.String,
    "window_start": pl.Datetime("us", "UTC"),
    "window_end": pl.Datetime("us", "UTC"),
    "site": pl.String,
    "zone": pl.String,
    "variable": pl.String,
    "feature": pl.String,
    "value": pl.Float64,
    "imputed": pl.Boolean,
}
DASK_CHUNK_WINDOWS = 500
# numpy releases the GIL in its reductions, so threads share a batch's windows across the cores.
THREADS = os.cpu_count() or 1


@dataclass
class ExtractionSpec:
    specs: list[WindowSpec] = field(default_factory=lambda: [DAY, ROLLING_24H])
    min_coverage: float = 0.8
    fc_parameters: dict = field(default_factory=lambda: dict(calculators.CURATED_FC_PARAMETERS))
    n_jobs: int = 0
    dask_scheduler: str | None = None
    domain: bool = True


@dataclass
class Extraction:
    windows: pl.DataFrame
    features: pl.DataFrame


def extract(measurements: pl.DataFrame, days: list[datetime], spec: ExtractionSpec) -> Extraction:
    """All windows owned by `days` (UTC midnights) and their features."""
    windows = build(measurements, days, spec.specs, spec.min_coverage, keep_grids=spec.domain)
    ours, rest = calculators.split_settings(spec.fc_parameters)
    frames = [_long(batch.keys, values) for batch, values in _vectorised(windows.batches, ours, spec.dask_scheduler)]
    if rest:
        frames += [_long(batch.keys, _with_tsfresh(batch, rest, spec)) for batch in windows.batches.values()]
    summary = windows.summary
    if spec.domain:
        domain_frame, domain_windows = _domain(windows, summary)
        frames.append(domain_frame)
        summary = pl.concat([summary, domain_windows])
    features = pl.concat(frames) if frames else pl.DataFrame(schema=FEATURE_SCHEMA)
    return Extraction(windows=summary, features=features.with_columns(pl.col("value").fill_nan(None)))


def _vectorised(batches: dict[int, Batch], ours: dict, scheduler: str | None):
    if not ours:
        return []
    chunk = DASK_CHUNK_WINDOWS if scheduler else max(1, -(-sum(len(b.values) for b in batches.values()) // THREADS))
    chunks = [
        (batch, batch.values[i : i + chunk], i)
        for batch in batches.values()
        for i in range(0, len(batch.values), chunk)
    ]
    if scheduler is None:
        with ThreadPoolExecutor(THREADS) as pool:
            results = list(pool.map(lambda c: calculators.compute(c[1], ours), chunks))
    else:
        from distributed import Client

        with Client(scheduler) as client:
            futures = client.map(calculators.compute, [c for _, c, _ in chunks], fc_parameters=ours, pure=False)
            results = client.gather(futures)
    merged: dict[int, list[dict]] = {}
    for (batch, _, _), result in zip(chunks, results):
        merged.setdefault(id(batch), []).append(result)
    return [
        (batch, {name: np.concatenate([r[name] for r in merged[id(batch)]]) for name in merged[id(batch)][0]})
        for batch in batches.values()
    ]


def _with_tsfresh(batch: Batch, settings: dict, spec: ExtractionSpec) -> dict[str, np.ndarray]:
    import pandas as pd  # with tsfresh (which needs a long frame), only for the calculators it alone has
    from tsfresh import extract_features

    rows, n = batch.values.shape
    frame = pd.DataFrame(
        {"id": np.repeat(np.arange(rows), n), "sort": np.tile(np.arange(n), rows), "value": batch.values.ravel()}
    )
    options = {"n_jobs": spec.n_jobs}
    if spec.dask_scheduler:
        from tsfresh.utilities.distribution import ClusterDaskDistributor

        options = {"distributor": ClusterDaskDistributor(address=spec.dask_scheduler)}
    result = extract_features(
        frame, column_id="id", column_sort="sort", default_fc_parameters=settings, disable_progressbar=True, **options
    ).sort_index()
    return {column.removeprefix("value__"): result[column].to_numpy(float) for column in result.columns}


def _long(keys: pl.DataFrame, values: dict[str, np.ndarray]) -> pl.DataFrame:
    """Windows × features -> one row per (window, feature), window-major, built column by column."""
    names = list(values)
    if not names:
        return pl.DataFrame(schema=FEATURE_SCHEMA)
    matrix = np.empty((len(keys), len(names)))
    for j, name in enumerate(names):
        matrix[:, j] = values[name]
    window = np.repeat(np.arange(len(keys)), len(names))
    feature = np.tile(np.arange(len(names)), len(keys))
    return (
        keys.select(pl.all().gather(window))
        .with_columns(feature=pl.Series(names, dtype=pl.String).gather(feature), value=pl.Series(matrix.ravel()))
        .select(FEATURE_SCHEMA.keys())
        .cast(FEATURE_SCHEMA)
    )


def _domain(windows, summary: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Domain features per (window, zone), plus a `domain` row in `features.windows` for each.

    The domain window's coverage and longest gap are the worst of the inputs it used; it is
    imputed when any input was.
    """
    inputs = {
        (r["window_kind"], r["window_start"], r["site"], r["zone"], r["variable"]): r
        for r in summary.iter_rows(named=True)
    }
    feature_rows, window_rows = [], []
    for (kind, start, site, zone), grids in windows.grids.items():
        values, used = domain.compute(grids)
        if not values:
            continue
        rows = [inputs[(kind, start, site, zone, v)] for v in used]
        end = rows[0]["window_end"]
        imputed = any(r["imputed"] for r in rows)
        window_rows.append(
            {
                "window_kind": kind,
                "window_start": start,
                "window_end": end,
                "site": site,
                "zone": zone,
                "variable": "domain",
                "n_points": sum(r["n_points"] for r in rows),
                "coverage": min(r["coverage"] for r in rows),
                "longest_gap_s": max(r["longest_gap_s"] for r in rows),
                "status": "computed",
                "imputed": imputed,
            }
        )
        feature_rows += [
            {
                "window_kind": kind,
                "window_start": start,
                "window_end": end,
                "site": site,
                "zone": zone,
                "variable": "domain",
                "feature": name,
                "value": value,
                "imputed": imputed,
            }
            for name, value in values.items()
        ]
    return (pl.DataFrame(feature_rows, schema=FEATURE_SCHEMA), pl.DataFrame(window_rows, schema=summary.schema))
