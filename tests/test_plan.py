"""Day-ahead hourly planner (issue 15): price response, photoperiod, the plan and backtest assets, the
bootstrap interval, and the automation that re-plans on a new price or forecast file.

The optimiser tests use a fixed February day; the asset tests write hourly measurements straight into
timeseries.measurements (and spot prices into the relation the planner reads), so they do not depend
on the ingest or dbt layers.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import psycopg
import pytest
from test_moga import synthetic_frame

from greenhouse_assets.database import libpq_url
from greenhouse_assets.defs.automation.sensors import PLAN_TARGETS
from greenhouse_assets.defs.moga.backtest import BacktestConfig, moga_backtest
from greenhouse_assets.defs.moga.plan import PlanConfig, moga_plan
from greenhouse_assets.defs.resources import LakeResource, PostgresResource
from greenhouse_assets.moga import backtest, bootstrap, plan_inputs, profiles, weather_error
from greenhouse_assets.moga.hourly import HOURS, HourlyDay, evaluate_plan, solar_noon_utc
from greenhouse_assets.moga.hourly_optimise import optimise_plan

HOUR_CENTRES = np.arange(24) + 0.5
FEBRUARY_SUN = 150.0 * np.clip(np.sin(np.pi * (HOUR_CENTRES - (solar_noon_utc() - 4.5)) / 9.0), 0.0, None)


def february_day(crop: str, prices: np.ndarray | None = None) -> HourlyDay:
    profile = profiles.crop_profile(crop)
    return HourlyDay(
        day=date(2014, 2, 10),
        outdoor_temperature_c=np.full(24, 1.0),
        radiation_w_m2=FEBRUARY_SUN,
        electricity_eur_per_kwh=np.full(24, 0.09) if prices is None else prices,
        u_value_w_m2k=7.0,
        solar_gain_fraction=0.4,
        baseline_kwh_m2=0.2,
        lamp_efficacy_umol_j=1.8,
        installed_lamp_ppfd=150.0,
        transmission=0.7,
        heat_eur_per_kwh=0.045,
        co2_eur_per_kg=0.12,
        max_light_period_h=profile.max_light_period_h,
        short_day=profile.phase == "short_day",
        dli_min_mol_m2=profile.dli_min_mol_m2_d,
        dli_max_mol_m2=profile.dli_max_mol_m2_d,
        heating_day_bounds=(profile.temperature_day_min_c, profile.temperature_day_max_c),
        heating_night_bounds=(profile.temperature_night_min_c, profile.temperature_night_max_c),
    )


def planned_lamps(day: HourlyDay, mode: str = "target", target: float | None = None) -> np.ndarray:
    front = optimise_plan(day, pop_size=80, generations=120, seed=3, seeds=2)
    chosen, _ = front.pick(mode, target)
    return evaluate_plan(front.x[chosen : chosen + 1], day)["lamps"][0]


@pytest.mark.pure
def test_a_price_spike_moves_lamp_hours_away_from_it():
    flat = february_day("generic_pot_plant")
    flat_lamps = planned_lamps(flat)
    dark_lit = [h for h in range(24) if flat_lamps[h] > 0 and flat.natural_ppfd()[h] == 0]
    assert len(dark_lit) >= 3, "the flat-price plan should burn lamps in dark hours on a February day"
    spike_hours = dark_lit[:3]
    prices = np.full(24, 0.09)
    prices[spike_hours] = 0.9
    spiked = replace(flat, electricity_eur_per_kwh=prices)
    target = float(
        evaluate_plan(np.atleast_2d(np.concatenate([flat_lamps, [18, 18, 0, 800, 400]])), flat)["photosynthesis"][0]
    )
    spiked_lamps = planned_lamps(spiked, target=target * 0.95)
    assert spiked_lamps[spike_hours].sum() == 0
    assert spiked_lamps.sum() >= 1  # the light moved to other hours, it did not simply go


@pytest.mark.pure
@pytest.mark.parametrize("crop", ["kalanchoe_blossfeldiana", "generic_pot_plant"])
def test_no_plan_exceeds_the_crops_photoperiod(crop):
    day = february_day(crop)
    profile = profiles.crop_profile(crop)
    natural_lit = (day.natural_ppfd() >= 1.0).sum()
    front = optimise_plan(day, pop_size=60, generations=60, seed=1)
    random_plans = np.random.default_rng(0).uniform(*day.bounds(), size=(500, HOURS + 5))
    random_plans[:, :HOURS] = np.random.default_rng(1).uniform(0, 1, size=(500, HOURS))  # even outside the bounds
    for plans, everyone_feasible in ((front.x, True), (random_plans, False)):
        evaluated = evaluate_plan(plans, day)
        lit = evaluated["lit"]
        if profile.phase == "short_day":
            # Every plan, feasible or not: daylight is blacked out and lamps are off outside the window.
            assert (lit.sum(axis=1) <= profile.max_light_period_h).all()
            assert not lit[:, ~day.lamp_window()].any()
        elif everyone_feasible:
            assert (lit.sum(axis=1) <= max(profile.max_light_period_h, natural_lit)).all()


@pytest.mark.pure
def test_short_day_window_is_one_unbroken_block_around_solar_noon():
    window = february_day("kalanchoe_blossfeldiana").lamp_window()
    hours = np.flatnonzero(window)
    assert len(hours) == 8 and (np.diff(hours) == 1).all() and hours[0] <= solar_noon_utc() <= hours[-1] + 1


@pytest.mark.pure
def test_bootstrap_interval_covers_the_plan_and_the_true_parameters():
    frame = synthetic_frame(120, seed=4)  # U = 7 W/m²K, transmission 0.6
    sets = bootstrap.parameter_resamples(
        frame, k_pipe_w_m2k=2.0, lamp_power_w_m2=150 / 1.8, energy=True, light=True, resamples=60, seed=1
    )
    assert len(sets) == 60
    for name, truth in (("u_value_w_m2k", 7.0), ("transmission", 0.6)):
        values = [s[name] for s in sets]
        assert min(values) < truth < max(values), name
    day = february_day("generic_pot_plant")
    front = optimise_plan(day, pop_size=40, generations=30, seed=2)
    result = bootstrap.band(front.x, 0, day, sets)
    assert result["cost_interval"][0] < result["cost_interval"][1]
    assert result["photosynthesis_interval"][0] < result["photosynthesis_interval"][1]
    assert len(result["front_cost_low"]) == len(front.x)
    # The plan's cost under the parameters of the middle resample lies in the interval.
    middle = sorted(sets, key=lambda s: s["u_value_w_m2k"])[len(sets) // 2]
    low, high = result["cost_interval"]
    assert low <= evaluate_plan(front.x[:1], replace(day, **middle))["cost"][0] <= high
    assert (
        bootstrap.parameter_resamples(
            frame.head(5), k_pipe_w_m2k=2.0, lamp_power_w_m2=83.3, energy=True, light=True, resamples=5, seed=1
        )
        == []
    )  # one week: nothing to resample


@pytest.mark.pure
def test_weather_error_widens_the_interval_and_zero_error_leaves_the_parameter_band():
    sets = bootstrap.parameter_resamples(
        synthetic_frame(120, seed=4),
        k_pipe_w_m2k=2.0,
        lamp_power_w_m2=150 / 1.8,
        energy=True,
        light=True,
        resamples=40,
        seed=1,
    )
    day = february_day("generic_pot_plant")
    front = optimise_plan(day, pop_size=40, generations=30, seed=2)
    chosen = len(front.x) // 2

    def widths(result):
        return [result[k][1] - result[k][0] for k in ("cost_interval", "photosynthesis_interval")]

    parameters_only = bootstrap.band(front.x, chosen, day, sets)
    zero = bootstrap.band(front.x, chosen, day, sets, {"outdoor_temperature": [0.0] * 20, "radiation": [0.0] * 20})
    assert zero["cost_interval"] == parameters_only["cost_interval"]
    assert zero["photosynthesis_interval"] == parameters_only["photosynthesis_interval"]
    rng = np.random.default_rng(5)
    large = {"outdoor_temperature": list(rng.normal(0.0, 4.0, 60)), "radiation": list(rng.normal(0.0, 25.0, 60))}
    widened = bootstrap.band(front.x, chosen, day, sets, large)
    assert all(w > 1.5 * p for w, p in zip(widths(widened), widths(parameters_only)))
    # Without a validated model the weather error alone still gives an interval; with neither, none.
    weather_only = bootstrap.band(front.x, chosen, day, [], large, draws=40)
    assert weather_only["draws"] == 40 and all(w > 0 for w in widths(weather_only))
    assert bootstrap.band(front.x, chosen, day, [], {}, draws=40) is None
    assert bootstrap.band(front.x, chosen, day, [], large, draws=0) is None


@pytest.mark.pure
def test_perturbed_weather_moves_the_daily_sums_by_the_error_and_keeps_nights_dark():
    day = february_day("generic_pot_plant")
    warm_dull = weather_error.perturbed(day, temperature_error=-2.0, radiation_error=10.0)
    assert warm_dull.outdoor_temperature_c == pytest.approx(day.outdoor_temperature_c + 2.0)
    assert warm_dull.radiation_w_m2.sum() == pytest.approx(day.radiation_w_m2.sum() - 24 * 10.0)
    assert (warm_dull.radiation_w_m2[day.radiation_w_m2 == 0] == 0).all()
    assert weather_error.perturbed(day, radiation_error=1e6).radiation_w_m2.sum() == 0  # never negative


@pytest.mark.pure
def test_persistence_error_is_yesterday_minus_today_per_day():
    start = int(datetime(2014, 2, 1, tzinfo=UTC).timestamp())
    means = [1.0, 3.0, 2.0, 6.0]
    series = {start + 3600 * (24 * d + h): means[d] + 0.1 * h for d in range(len(means)) for h in range(24)}
    archive = plan_inputs.HourlyArchive({("s", "outdoor", "outdoor_temperature"): series})
    errors = weather_error.persistence_errors(archive, "s", "outdoor_temperature", date(2014, 2, 5))
    assert errors == pytest.approx([2.0 - 6.0, 3.0 - 2.0, 1.0 - 3.0])  # most recent first
    assert weather_error.persistence_errors(archive, "s", "outdoor_temperature", date(2014, 2, 3)) == pytest.approx(
        [1.0 - 3.0]
    )


@pytest.mark.pure
def test_backtest_flags_savings_far_beyond_the_published_range():
    def row(actual, plan):
        return {
            "actual_cost_eur_m2": actual,
            "plan_cost_eur_m2": plan,
            "actual_photosynthesis_g_m2": 20.0,
            "plan_photosynthesis_g_m2": 20.0,
        }

    plausible = backtest.summarise([row(1.0, 0.8), row(1.0, 0.78), row(1.0, 0.9)])
    assert plausible["median_saving_pct"] == pytest.approx(20.0) and not plausible["likely_model_error"]
    absurd = backtest.summarise([row(1.0, 0.3), row(1.0, 0.35), row(1.0, 0.9)])
    assert absurd["likely_model_error"]
    short = backtest.summarise([{**row(1.0, 0.1), "plan_photosynthesis_g_m2": 10.0}])
    assert short["days_plan_short"] == 1 and short["median_saving_pct"] is None


# --- the assets, on hourly rows in the database ------------------------------------------------------------

FIRST = date(2014, 2, 1)
DAYS = 3


def hourly_rows() -> list[tuple]:
    """Three February days: Knudjepsen NO3 (its own outdoor sensors, lamps 06-09 and 15-18 UTC) and Aarslev
    celle5 with the weather mast (zone `outdoor`) carrying a forecast for the day after."""
    rows = []
    for d in range(DAYS + 1):
        for h in range(24):
            t = datetime.combine(FIRST + timedelta(days=d), datetime.min.time(), UTC) + timedelta(hours=h)
            outdoor = 1.0 + 3.0 * np.sin(np.pi * (h - 8) / 12)
            sun = float(FEBRUARY_SUN[h]) * (0.8 + 0.1 * d)
            if d == DAYS:  # the planned day: only Aarslev's forecast exists
                rows += [
                    (t, "aarslev", "outdoor", "outdoor_temperature_forecast", outdoor - 1, "°C"),
                    (t, "aarslev", "outdoor", "radiation_forecast", sun * 0.5, "W/m²"),
                ]
                continue
            lamps = 1.0 if h in (6, 7, 8, 15, 16, 17) else 0.0
            rows += [
                (t, "knudjepsen", "NO3", "air_temperature", 20.0 if 6 <= h < 18 else 18.0, "°C"),
                (t, "knudjepsen", "NO3", "lamp_status", lamps, "0/1"),
                (t, "knudjepsen", "NO3", "outdoor_temperature", outdoor, "°C"),
                (t, "knudjepsen", "NO3", "radiation", sun, "W/m²"),
                (t, "aarslev", "celle5", "air_temperature", 20.0, "°C"),
                (t, "aarslev", "outdoor", "outdoor_temperature", outdoor, "°C"),
                (t, "aarslev", "outdoor", "radiation", sun, "W/m²"),
            ]
    return rows


@contextmanager
def knudjepsen_spot_prices(url: str, day: date, eur_per_mwh: np.ndarray):
    """Spot prices for Knudjepsen (DK1) on `day` where the planner reads them: into the dbt model's table when an
    earlier test of the session built it, else into a stand-in table of the view's name, removed afterwards."""
    hours = [datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=h) for h in range(24)]
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        built = conn.execute("SELECT to_regclass('timeseries.site_electricity_prices')").fetchone()[0] is not None
        if built:
            conn.cursor().executemany(
                """INSERT INTO timeseries.electricity_prices (hour_utc, price_area, price_dkk_per_mwh, price_eur_per_mwh,
                                                              file_id) VALUES (%s, 'DK1', %s, %s, 0)""",
                [(t, float(p) * 7.46, float(p)) for t, p in zip(hours, eur_per_mwh)],
            )
        else:
            conn.execute(
                "CREATE TABLE timeseries.site_electricity_prices (site text, hour_utc timestamptz, "
                "price_eur_per_mwh double precision)"
            )
            conn.cursor().executemany(
                "INSERT INTO timeseries.site_electricity_prices VALUES ('knudjepsen', %s, %s)",
                [(t, float(p)) for t, p in zip(hours, eur_per_mwh)],
            )
    try:
        yield built
    finally:
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            if built:
                conn.execute(
                    "DELETE FROM timeseries.electricity_prices WHERE file_id = 0 AND hour_utc = ANY(%s)", (hours,)
                )
            else:
                conn.execute("DROP TABLE timeseries.site_electricity_prices")


def insert_hourly(url: str) -> None:
    with psycopg.connect(libpq_url(url)) as conn, conn.cursor() as cursor:
        cursor.executemany(
            """INSERT INTO timeseries.measurements (time, site, zone, variable, value, unit, file_id)
                              VALUES (%s, %s, %s, %s, %s, %s, 1)""",
            hourly_rows(),
        )


def run_assets(url: str, lake: Path, instance, assets, config: dict):
    return dg.materialize(
        assets,
        resources={"postgres": PostgresResource(url=url), "lake": LakeResource(url=str(lake))},
        instance=instance,
        run_config=dg.RunConfig(ops=config),
        raise_on_error=True,
    )


def test_plan_asset_writes_tomorrows_hourly_plan_with_its_sources(clean_platform, instance, tmp_path):
    url, lake = clean_platform, tmp_path / "lake"
    insert_hourly(url)
    # Ten earlier days of Knudjepsen's outdoor weather alone (no zone climate): enough past persistence errors
    # for the plan's interval.
    rng = np.random.default_rng(8)
    earlier = [
        (
            datetime.combine(FIRST - timedelta(days=d), datetime.min.time(), UTC) + timedelta(hours=h),
            "knudjepsen",
            "NO3",
            variable,
            value + shift,
            unit,
        )
        for d, (t_shift, r_scale) in enumerate(zip(rng.normal(0, 2, 10), rng.uniform(0.5, 1.2, 10)), start=1)
        for h in range(24)
        for variable, value, shift, unit in (
            ("outdoor_temperature", 1.0, t_shift, "°C"),
            ("radiation", float(FEBRUARY_SUN[h]) * r_scale, 0.0, "W/m²"),
        )
    ]
    with psycopg.connect(libpq_url(url)) as conn, conn.cursor() as cursor:
        cursor.executemany(
            """INSERT INTO timeseries.measurements (time, site, zone, variable, value, unit, file_id)
                              VALUES (%s, %s, %s, %s, %s, %s, 1)""",
            earlier,
        )
    planned = FIRST + timedelta(days=DAYS)
    spot = 30.0 + 10.0 * np.sin(np.pi * np.arange(24) / 12)
    with knudjepsen_spot_prices(url, planned, spot) as built:
        result = run_assets(
            url,
            lake,
            instance,
            [moga_plan],
            {"moga__plan": PlanConfig(pop_size=40, generations=40, seeds=1, bootstrap_resamples=20)},
        )
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert sorted(metadata["zones_planned"].value) == ["aarslev/celle5", "knudjepsen/NO3"]
    with psycopg.connect(libpq_url(url)) as conn:
        days = {
            (s, z): (d, w, p, m)
            for s, z, d, w, p, m in conn.execute(
                "SELECT site, zone, day, weather_source, price_source, model_statuses FROM moga.plan_days"
            ).fetchall()
        }
        knud = conn.execute("""SELECT hour, electricity_price_eur_per_kwh, outdoor_temperature_forecast, lamp_level, lit
                                 FROM moga.plans WHERE site = 'knudjepsen' ORDER BY hour""").fetchall()
        aarslev_radiation = [
            r[0]
            for r in conn.execute(
                "SELECT radiation_forecast FROM moga.plans WHERE site = 'aarslev' ORDER BY hour"
            ).fetchall()
        ]
    assert {d for d, *_ in days.values()} == {planned}
    assert "persistence (measured 2014-02-03)" in days[("knudjepsen", "NO3")][1]
    assert "forecast (radiation_forecast)" in days[("aarslev", "celle5")][1]
    assert days[("knudjepsen", "NO3")][2].startswith("spot")
    # Both sites are in DK1: through the dbt view (built by an earlier test) Aarslev has the spot prices
    # too; through the Knudjepsen-only stand-in it falls back to its flat price and says so.
    assert days[("aarslev", "celle5")][2].startswith("spot" if built else "flat sites.yaml price")
    assert "literature values" in days[("knudjepsen", "NO3")][3]["energy_parameters"]
    with psycopg.connect(libpq_url(url)) as conn:
        intervals = {
            s: (c, lo, hi, plo, phi, text)
            for s, c, lo, hi, plo, phi, text in conn.execute(
                """SELECT site, cost_eur_m2, cost_low_eur_m2, cost_high_eur_m2, photosynthesis_low_g_m2,
                      photosynthesis_high_g_m2, interval_sources FROM moga.plan_days"""
            ).fetchall()
        }
    # No validated model here: Knudjepsen's interval is its persistence error alone, and says so.
    _, low, high, photo_low, photo_high, text = intervals["knudjepsen"]
    assert low < high and photo_low < photo_high
    assert "persistence error of outdoor_temperature (12 past measured day(s))" in text
    assert "energy parameters (energy model not validated)" in text.split("not covered:")[1]
    assert "forecast error of radiation" in intervals["aarslev"][5]
    grid = profiles.load_config()["sites"]["knudjepsen"]["prices"]["electricity_grid_eur_per_kwh"]["value"]
    assert [r[1] for r in knud] == pytest.approx(list(spot / 1000 + grid))
    assert [r[0] for r in knud] == list(range(24))
    assert sum(r[4] for r in knud) <= 8  # Kalanchoe: short days
    assert aarslev_radiation == pytest.approx([float(FEBRUARY_SUN[h]) * (0.8 + 0.1 * DAYS) * 0.5 for h in range(24)])
    csv = lake / "moga" / f"plan_knudjepsen_NO3_{planned}.csv"
    assert csv.is_file() and len(csv.read_text().splitlines()) == 25
    assert (lake / "moga" / f"plan_knudjepsen_NO3_{planned}.png").is_file()


def stored_backtest(url: str) -> list[dict]:
    with psycopg.connect(libpq_url(url)) as conn:
        cursor = conn.execute("SELECT * FROM moga.backtest ORDER BY day")
        names = [c.name for c in cursor.description]
        return [dict(zip(names, r)) for r in cursor.fetchall()]


def test_backtest_rows_recompute_the_materialized_figures(clean_platform, instance, tmp_path):
    url = clean_platform
    insert_hourly(url)
    result = run_assets(
        url,
        tmp_path / "lake",
        instance,
        [moga_backtest],
        {"moga__backtest": BacktestConfig(pop_size=30, generations=30)},
    )
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    rows = stored_backtest(url)
    # Day 1 has no earlier day to persist; Aarslev logs no lamp status: two Knudjepsen days.
    assert [(r["zone"], r["day"]) for r in rows] == [
        ("NO3", FIRST + timedelta(days=1)),
        ("NO3", FIRST + timedelta(days=2)),
    ]
    assert all(r["actual_lamp_hours"] == 6 for r in rows)
    recomputed = backtest.summarise(rows)
    assert metadata["days"].value == recomputed["days"] == 2
    assert metadata["days_evaluated"].value == 2 and metadata["days_unchanged"].value == 0
    assert metadata["days_equal_or_better"].value == recomputed["days_equal_or_better"]
    assert metadata["likely_model_error"].value == recomputed["likely_model_error"]
    if recomputed["median_saving_pct"] is not None:
        assert metadata["median_saving_pct"].value == pytest.approx(recomputed["median_saving_pct"])
    assert "aarslev/celle5" in metadata["zones_without_complete_days"].value


def test_backtest_reoptimises_only_days_whose_inputs_changed(clean_platform, instance, tmp_path):
    url, lake = clean_platform, tmp_path / "lake"
    insert_hourly(url)
    config = {"moga__backtest": BacktestConfig(pop_size=20, generations=15)}

    def materialize() -> dict:
        result = run_assets(url, lake, instance, [moga_backtest], config)
        return result.get_asset_materialization_events()[0].materialization.metadata

    first = materialize()
    before = {r["day"]: r for r in stored_backtest(url)}
    assert first["days_evaluated"].value == 2 and all(r["inputs_fingerprint"] for r in before.values())
    again = materialize()  # no new data: nothing optimised, the figures are those of the stored rows
    assert again["days_evaluated"].value == 0 and again["days_unchanged"].value == 2
    assert again["days"].value == first["days"].value
    assert {r["day"]: r["dagster_run_id"] for r in stored_backtest(url)} == {
        d: r["dagster_run_id"] for d, r in before.items()
    }
    # A corrected reading on the last day: that day (and no other) is backtested again.
    last = FIRST + timedelta(days=2)
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute(
            """UPDATE timeseries.measurements SET value = value + 2 WHERE site = 'knudjepsen'
                        AND variable = 'air_temperature' AND time >= %s AND time < %s""",
            (plan_inputs.day_start(last), plan_inputs.day_start(last) + timedelta(hours=6)),
        )
    changed = materialize()
    assert changed["days_evaluated"].value == 1 and changed["days_unchanged"].value == 1
    after = {r["day"]: r for r in stored_backtest(url)}
    assert after[last]["dagster_run_id"] != before[last]["dagster_run_id"]
    assert after[last]["actual_cost_eur_m2"] > before[last]["actual_cost_eur_m2"]  # warmer: more heat
    first_day = FIRST + timedelta(days=1)
    assert after[first_day]["dagster_run_id"] == before[first_day]["dagster_run_id"]
    # Figures recompute from the stored rows, old and new alike.
    assert changed["days"].value == backtest.summarise(list(after.values()))["days"] == 2


@pytest.mark.pure
def test_weather_falls_back_to_persistence_hour_by_hour():
    start = int(datetime(2014, 2, 1, tzinfo=UTC).timestamp())
    measured = {start + 3600 * h: float(h) for h in range(24)}
    archive = plan_inputs.HourlyArchive(
        {("s", "z", "outdoor_temperature"): measured, ("s", "z", "radiation"): {k: 2 * v for k, v in measured.items()}}
    )
    values, sources = plan_inputs.weather_for(archive, "s", date(2014, 2, 2))
    assert list(values["outdoor_temperature"]) == list(range(24))
    assert sources == {
        "outdoor_temperature": "persistence (measured 2014-02-01)",
        "radiation": "persistence (measured 2014-02-01)",
    }
    assert plan_inputs.weather_for(archive, "s", date(2014, 2, 1)) is None  # nothing before it


# --- automation ---------------------------------------------------------------------------------------------


def test_a_new_price_or_forecast_file_requests_the_plan():
    """The plan's own condition on a graph of its inputs: a new price model run or new measurements (where
    forecast files land) request it once; and the code location's plan_automation sensor targets it."""
    from greenhouse_assets.definitions import defs as platform

    plan_key = dg.AssetKey(["moga", "plan"])
    assert plan_key in PLAN_TARGETS.resolve(platform.resolve_asset_graph())
    condition = moga_plan.automation_conditions_by_key[plan_key]
    assert condition.get_label() == "after_prices_or_forecast"
    upstream = [
        dg.AssetSpec(key)
        for key in (["timeseries", "site_electricity_prices"], ["timeseries", "measurements"], "moga_objective_models")
    ]
    plan = dg.AssetSpec(plan_key, deps=[s.key for s in upstream], automation_condition=condition)
    defs = dg.Definitions(assets=[*upstream, plan])
    instance = dg.DagsterInstance.ephemeral()
    cursor = dg.evaluate_automation_conditions(defs=defs, instance=instance).cursor
    for upstream_key in (["timeseries", "site_electricity_prices"], ["timeseries", "measurements"]):
        instance.report_runless_asset_event(dg.AssetMaterialization(upstream_key))
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
        assert result.get_num_requested(plan_key) == 1, upstream_key
        cursor = result.cursor
        # Once per new file, not again on the next tick.
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
        assert result.get_num_requested(plan_key) == 0
        cursor = result.cursor
