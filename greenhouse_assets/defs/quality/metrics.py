"""`quality/quality_metrics`: quality scores per file version and per day (SQL: quality/scores.sql)."""

import dagster as dg

from greenhouse_assets import catalog
from greenhouse_assets.defs.platform import platform_asset
from greenhouse_assets.defs.resources import LakeResource, PostgresResource
from greenhouse_assets.governance import audit, lineage
from greenhouse_assets.quality import plot, scores


def _table(rows: list[dict], key: str) -> str:
    header = f"| {key} | site | " + " | ".join(scores.DIMENSIONS) + " | aggregate | anomalies |"
    lines = [header, "|" + "---|" * (len(scores.DIMENSIONS) + 4)]
    for r in rows:
        cells = [f"{r[d]:.3f}" if r[d] is not None else "–" for d in (*scores.DIMENSIONS, "aggregate")]
        lines.append(f"| {r[key]} | {r['site']} | " + " | ".join(cells) + f" | {r['anomalies']} |")
    return "\n".join(lines)


@platform_asset(
    catalog.QUALITY_METRICS,
    deps=[catalog.MEASUREMENTS.asset_key],
    automation_condition=dg.AutomationCondition.eager(),
)
def quality_metrics(context: dg.AssetExecutionContext, postgres: PostgresResource, lake: LakeResource):
    """Completeness, consistency, timeliness, validity, accuracy, uniqueness and their mean, per file
    version and per UTC day and site, plus anomaly and allow-list rejection counts, recomputed in
    one transaction (idempotent) into `metadata.quality_metrics`."""
    with postgres.connection() as conn:
        result, stored = scores.compute_and_store(conn, context.run_id)
        audit.record_write(
            conn,
            context,
            catalog.QUALITY_METRICS,
            rows=stored,
            operation="replace",
            inputs=[lineage.table("timeseries.measurements"), lineage.table("metadata.files")],
        )
    png = plot.daily_score_png(result.per_day)
    plot_uri = lake.store.write_bytes("quality/daily_score.png", png)
    files, days = result.per_file, result.per_day
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": stored,
            "file_versions": len(files),
            "days": len(days),
            "mean_file_score": dg.MetadataValue.float(_mean(files)),
            "mean_daily_score": dg.MetadataValue.float(_mean(days)),
            "anomalies": sum(r["anomalies"] for r in days),
            "rejected_by_allow_list": sum(r["rejected_by_allow_list"] for r in files),
            "per_file_version": dg.MetadataValue.md(_table(files, "file_id")),
            "daily_score_plot": dg.MetadataValue.md(plot.markdown_image(png)),
            "plot_uri": dg.MetadataValue.url(plot_uri),
        }
    )


def _mean(rows: list[dict]) -> float:
    values = [r["aggregate"] for r in rows if r["aggregate"] is not None]
    return sum(values) / len(values) if values else float("nan")
