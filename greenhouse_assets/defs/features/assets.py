"""Features layer: windowed tsfresh + domain features from `timeseries.measurements`, and their importance.

`extracted_features` is partitioned by UTC day. A partition owns the windows that start on its
day (the calendar-day window and the rolling 24 h windows starting at 00, 06, 12, 18 UTC), reads
only the measurements those windows cover (its day and the next 18 h), and replaces exactly its
own rows in one transaction — so re-running a day is idempotent and new data for day D means
re-running D (and D−1, whose last rolling windows reach into D). A backfill runs as one run
(single-run backfill policy) so all its days are vectorised together.
"""

import hashlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from greenhouse_assets import catalog, settings
from greenhouse_assets.defs.automation.policies import after_complete_day
from greenhouse_assets.defs.platform import platform_asset
from greenhouse_assets.defs.resources import PostgresResource
from greenhouse_assets.features import store
from greenhouse_assets.features.windows import DAY, ROLLING_24H, WindowSpec, read_range
from greenhouse_assets.governance import audit, column_lineage, lineage

daily = dg.DailyPartitionsDefinition(start_date="2013-12-01", timezone="UTC")


class FeatureConfig(dg.Config):
    """Window spec and execution; defaults are the platform's documented feature set."""

    min_coverage: float = 0.8
    rolling_hours: int = 24
    rolling_step_hours: int = 6
    include_rolling: bool = True
    # Calculators (tsfresh settings format) added to the curated set; those without a vectorised
    # version run through tsfresh itself.
    extra_tsfresh_parameters: dict[str, Any] = {}
    n_jobs: int = 0
    # Empty: use GREENHOUSE_DASK_SCHEDULER if set, else run in-process.
    dask_scheduler: str = ""

    def extraction_spec(self) -> "ExtractionSpec":  # noqa: F821 - imported lazily below
        # tsfresh (with numba) takes seconds to import: only runs that extract features pay for it.
        from greenhouse_assets.features import calculators
        from greenhouse_assets.features.extract import ExtractionSpec

        specs = [DAY]
        if self.include_rolling:
            specs.append(
                WindowSpec(
                    f"rolling_{self.rolling_hours}h",
                    timedelta(hours=self.rolling_hours),
                    timedelta(hours=self.rolling_step_hours),
                )
            )
        return ExtractionSpec(
            specs=specs,
            min_coverage=self.min_coverage,
            n_jobs=self.n_jobs,
            fc_parameters={**calculators.CURATED_FC_PARAMETERS, **self.extra_tsfresh_parameters},
            dask_scheduler=self.dask_scheduler or settings.dask_scheduler(),
        )


def _days(context: dg.AssetExecutionContext) -> list[datetime]:
    window = context.partition_time_window
    start = window.start.astimezone(UTC)
    return [start + timedelta(days=i) for i in range((window.end - window.start).days)]


@platform_asset(
    catalog.EXTRACTED_FEATURES,
    deps=[catalog.MEASUREMENTS.asset_key],
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description=(
        "`features.extracted_features` and `features.windows`: per UTC day and rolling 24 h window (6 h step), "
        "site, zone and variable, the curated tsfresh features (vectorised, equal to tsfresh) and greenhouse "
        "domain features (`variable = 'domain'`). Windows below the coverage threshold are recorded as skipped; "
        "gap-filled windows are flagged imputed. Reads only `timeseries.measurements` (quality_flag = 'ok')."
    ),
    metadata={"window_timezone": "UTC", "default_windows": [DAY.kind, ROLLING_24H.kind]},
)
def extracted_features(
    context: dg.AssetExecutionContext, config: FeatureConfig, postgres: PostgresResource
) -> dg.MaterializeResult:
    from greenhouse_assets.features import catalog as feature_catalog
    from greenhouse_assets.features.extract import extract

    started = time.perf_counter()
    spec = config.extraction_spec()
    days = _days(context)
    lo, hi = read_range(days, spec.specs)
    owned_end = days[-1] + timedelta(days=1)
    with postgres.connection() as conn:
        measurements = store.read_measurements(conn, lo, hi)
        result = extract(measurements, days, spec)
        store.replace_windows(conn, days[0], owned_end, result.windows, result.features)
        store.upsert_metadata(conn, feature_catalog.feature_metadata(spec))
        audit.record_write(
            conn,
            context,
            catalog.EXTRACTED_FEATURES,
            partition_key=_partition_label(context),
            operation="replace",
            rows=result.features.height,
            inputs=[lineage.table(catalog.MEASUREMENTS.table)],
            details={"windows": result.windows.height, "read_from": lo, "read_to": hi},
        )
    status = result.windows["status"].value_counts()
    counts = dict(zip(status["status"], status["count"]))
    computed = result.windows.filter(status="computed")
    per_window = (
        result.features.group_by(["window_kind", "window_start", "site", "zone", "variable"]).len()["len"]
        if result.features.height
        else None
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": result.features.height,
            "dagster/column_lineage": column_lineage.EXTRACTED_FEATURES,
            "windows_computed": int(counts.get("computed", 0)),
            "windows_skipped": int(counts.get("skipped", 0)),
            "windows_imputed": int(computed["imputed"].sum()) if computed.height else 0,
            "features_per_window": float(per_window.mean()) if per_window is not None else 0.0,
            "measurement_rows_read": measurements.height,
            "seconds": round(time.perf_counter() - started, 3),
            "dask_scheduler": spec.dask_scheduler or "in-process",
        }
    )


def _partition_label(context: dg.AssetExecutionContext) -> str:
    keys = context.partition_key_range
    return keys.start if keys.start == keys.end else f"{keys.start}..{keys.end}"


class ImportanceConfig(dg.Config):
    min_days: int = 10
    fdr_level: float = 0.05


def data_version(conn) -> str:
    """Identifies the inputs: measurements (max file_id, rows) and the day features (rows, last write)."""
    facts = conn.execute(
        "SELECT (SELECT max(file_id) FROM timeseries.measurements), (SELECT count(*) FROM timeseries.measurements), "
        "(SELECT count(*) FROM features.extracted_features WHERE window_kind = 'day'), "
        "(SELECT max(computed_at) FROM features.extracted_features WHERE window_kind = 'day')"
    ).fetchone()
    return hashlib.sha256(repr(facts).encode()).hexdigest()[:16]


@platform_asset(
    catalog.FEATURE_IMPORTANCE,
    deps=[catalog.EXTRACTED_FEATURES.asset_key],
    description=(
        "`features.feature_importance`: per site and zone, tsfresh relevance (Benjamini–Yekutieli) and random-forest "
        "importance of every day-window feature for the MOGA targets `energy_use_proxy` and `growth_proxy`, "
        "with the data version they came from."
    ),
    automation_condition=after_complete_day(),
)
def feature_importance(
    context: dg.AssetExecutionContext, config: ImportanceConfig, postgres: PostgresResource
) -> dg.MaterializeResult:
    import pandas as pd  # ~0.6 s: imported by the run that ranks, not by every load of the code location

    from greenhouse_assets.features import importance

    with postgres.connection() as conn:
        version = data_version(conn)
        rows = conn.execute(
            "SELECT site, zone, window_start, variable, feature, value FROM features.extracted_features "
            "WHERE window_kind = 'day' AND value IS NOT NULL"
        ).fetchall()
        frame = pd.DataFrame(rows, columns=["site", "zone", "window_start", "variable", "feature", "value"])
        written, skipped = [], {}
        for (site, zone), zone_rows in frame.groupby(["site", "zone"]):
            ranked, why = importance.rank(importance.day_matrix(zone_rows), config.min_days, config.fdr_level)
            written += [{**r, "site": site, "zone": zone, "data_version": version} for r in ranked]
            skipped.update({f"{site}/{zone}/{target}": reason for target, reason in why.items()})
        conn.execute("DELETE FROM features.feature_importance")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO features.feature_importance (target, feature, site, zone, p_value, relevant, importance, "
                "method, data_version) VALUES (%(target)s, %(feature)s, %(site)s, %(zone)s, %(p_value)s, %(relevant)s, "
                "%(importance)s, %(method)s, %(data_version)s)",
                written,
            )
        audit.record_write(
            conn,
            context,
            catalog.FEATURE_IMPORTANCE,
            operation="replace",
            rows=len(written),
            inputs=[lineage.table(catalog.EXTRACTED_FEATURES.table)],
            details={"data_version": version},
        )
    if skipped:
        context.log.info(f"too few days for a relevance test, nothing written for: {skipped}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(written),
            "dagster/column_lineage": column_lineage.FEATURE_IMPORTANCE,
            "data_version": version,
            "relevant_features": sum(1 for r in written if r["relevant"]),
            "skipped_too_few_days": dg.MetadataValue.json(skipped),
        }
    )
