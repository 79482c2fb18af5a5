"""The Pareto front as a PNG for people: written to the lake and embedded in the materialization."""

from __future__ import annotations

import base64
import io

import numpy as np

from greenhouse_assets.ingest.lake_store import LakeStore

MARKERS = {"lowest_cost": ("s", "tab:green"), "highest_growth": ("^", "tab:red"), "knee": ("*", "tab:purple")}


def pareto_png(
    cost: np.ndarray,
    growth: np.ndarray,
    ranks: np.ndarray,
    picks: dict[str, int],
    title: str,
    per_development_day: bool = False,
) -> bytes:
    """The front on the objectives it was ranked on: per day of crop development when the crop has a
    development model (see `problem`), else per calendar day."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=100)
    others = ranks > 0
    ax.scatter(cost[others], growth[others], s=10, c="0.75", label="final population")
    front = np.flatnonzero(ranks == 0)
    order = front[np.argsort(cost[front])]
    ax.plot(cost[order], growth[order], "o-", ms=3, lw=1, c="tab:blue", label="Pareto front")
    for name, index in picks.items():
        marker, colour = MARKERS[name]
        ax.scatter(cost[index], growth[index], s=120, marker=marker, c=colour, zorder=3, label=name.replace("_", " "))
    per = "per day of crop development" if per_development_day else "day⁻¹"
    ax.set_xlabel(f"cost (heat + electricity + CO2), EUR m⁻² floor {per}")
    ax.set_ylabel(f"net assimilation, g CH₂O m⁻² {per}")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def write_png(png: bytes, store: LakeStore, key: str) -> str:
    """The chart at `key` in the lake; its URI."""
    return store.write_bytes(key, png)


def markdown_image(png: bytes) -> str:
    return f"![Pareto front](data:image/png;base64,{base64.b64encode(png).decode()})"


def _pyplot():
    """matplotlib's pyplot on the Agg backend (no display on a server), imported on the first plot only:
    it costs ~0.7 s, and every process that loads the code location would otherwise pay it."""
    import matplotlib

    matplotlib.use("Agg")  # must precede pyplot
    import matplotlib.pyplot as plt

    return plt
