"""The 24-hour plan as a grower reads it: lamp hours against the price curve and the forecast
radiation, and the temperature setpoints against the outdoor forecast. matplotlib is imported on the
first chart only (`plot._pyplot`), never when the code location loads."""

from __future__ import annotations

import io
import textwrap

import numpy as np

from greenhouse_assets.moga.plot import _pyplot


def plan_png(hours: list[dict], title: str) -> bytes:
    plt = _pyplot()
    h = np.array([r["hour"] for r in hours])
    column = lambda name: np.array([r[name] for r in hours], dtype=float)  # noqa: E731
    fig, (ax_lamps, ax_light, ax_temp) = plt.subplots(3, 1, figsize=(7.2, 6.6), dpi=100, sharex=True)

    ax_lamps.bar(h, column("lamp_level"), width=0.85, color="gold", edgecolor="darkgoldenrod", label="lamps (level)")
    ax_lamps.set_ylim(0, 1.05)
    ax_lamps.set_ylabel("lamp level")
    price = ax_lamps.twinx()
    price.step(h, column("electricity_price_eur_per_kwh") * 1000, where="mid", c="tab:red", label="electricity price")
    price.set_ylabel("EUR/MWh", color="tab:red")
    ax_lamps.legend(
        handles=[*ax_lamps.get_legend_handles_labels()[0], *price.get_legend_handles_labels()[0]],
        fontsize=8,
        loc="upper left",
    )

    ax_light.fill_between(h, column("natural_ppfd"), step="mid", color="skyblue", label="daylight at the crop")
    ax_light.step(h, column("ppfd"), where="mid", c="tab:blue", label="daylight + lamps")
    ax_light.set_ylabel("PPFD, µmol m⁻² s⁻¹")
    radiation = ax_light.twinx()
    radiation.plot(h, column("radiation_forecast"), "--", c="tab:orange", label="outside radiation (forecast)")
    radiation.set_ylabel("W/m²", color="tab:orange")
    ax_light.legend(
        handles=[*ax_light.get_legend_handles_labels()[0], *radiation.get_legend_handles_labels()[0]],
        fontsize=8,
        loc="upper left",
    )

    ax_temp.step(h, column("heating_setpoint"), where="mid", c="tab:purple", label="heating setpoint")
    ax_temp.step(
        h, column("expected_temperature"), where="mid", c="tab:purple", ls=":", label="expected air temperature"
    )
    ax_temp.plot(h, column("outdoor_temperature_forecast"), "--", c="0.4", label="outdoor (forecast)")
    ax_temp.set_ylabel("°C")
    ax_temp.set_xlabel("hour (UTC)")
    ax_temp.set_xticks(range(0, 24, 2))
    ax_temp.legend(fontsize=8, loc="center left")
    for ax in (ax_lamps, ax_light, ax_temp):
        ax.grid(alpha=0.3)
    fig.suptitle(textwrap.fill(title, 110), fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def savings_png(savings_pct: np.ndarray, title: str) -> bytes:
    """Histogram of modelled savings (%) on the days the plan reached the grower's photosynthesis."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    ax.hist(savings_pct, bins=min(20, max(len(savings_pct), 1)), color="tab:green", edgecolor="darkgreen")
    ax.axvspan(20, 25, color="0.85", label="DynaLight/DynaGrow published 20–25 %")
    ax.set_xlabel("modelled cost saving vs the grower, % (plan at equal or better photosynthesis)")
    ax.set_ylabel("days")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
