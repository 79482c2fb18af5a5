"""The daily aggregate quality score per site as a PNG (a line over time reads better than a table)."""

from __future__ import annotations

import base64
import io


def daily_score_png(per_day: list[dict]) -> bytes:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=100)
    for site in sorted({r["site"] for r in per_day}):
        rows = [r for r in per_day if r["site"] == site and r["aggregate"] is not None]
        ax.plot([r["day"] for r in rows], [r["aggregate"] for r in rows], "o-", ms=3, lw=1, label=site)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("aggregate quality score")
    ax.set_title("Daily data quality (UTC days)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.autofmt_xdate()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def markdown_image(png: bytes) -> str:
    return f"![daily quality score](data:image/png;base64,{base64.b64encode(png).decode()})"


def _pyplot():
    """matplotlib's pyplot on the Agg backend (no display on a server), imported on the first plot only:
    it costs ~0.7 s, and every process that loads the code location would otherwise pay it."""
    import matplotlib

    matplotlib.use("Agg")  # must precede pyplot
    import matplotlib.pyplot as plt

    return plt
