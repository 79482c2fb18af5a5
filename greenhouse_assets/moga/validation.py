"""Validation that means something: blocked cross-validation, skill against a seasonal baseline,
derived-target detection and parameter plausibility. Pure functions: numpy and polars, no database.

Blocked cross-validation. The zone's usable days are cut into contiguous blocks (ISO weeks by
default, or calendar months); each block in turn is the test block and the model is refitted on
all other blocks, so no test day ever lies between training days of its own block and
day-to-day autocorrelation inside a block cannot leak. Every usable day is predicted exactly
once, out of fold; a model needs at least MIN_TEST_DAYS such days (and two blocks) to be judged.

Skill against climatology: the baseline predicts a test day by the mean target of the training
days of the same zone and calendar month (all training days when that month has none); it is
computed inside each fold from the training blocks only. skill = 1 − MSE_model / MSE_climatology,
pooled over all out-of-fold days. 0 means "no better than knowing the season", 1 is perfect; the
gate is on skill (`skill_threshold`), R² is reported beside it.

Derived targets. A fit whose target was computed from its own regressors measures the
arithmetic, not the greenhouse. Two tests: provenance (the feature catalog's inputs of the
target are a subset of the regressors' inputs, e.g. a DLI computed from radiation regressed on
radiation) and numerics (the target is an exact linear function of one regressor, or of all of
them: in-sample R² ≥ 0.9999). Either makes the model `derived`, never `validated`.

Plausibility. Fitted physical parameters have documented ranges (PLAUSIBLE); outside them the
model is `rejected` with the reason, whatever its skill.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

MIN_TEST_DAYS = 20
EXACT_R2 = 0.9999
CV_SCHEMES = ("week", "month")

# Literature ranges of fitted physical parameters, per m² floor (checked 2026-12-04, see each line).
# U: cover heat-transmission coefficient per m² floor incl. leakage at normal wind. Checked:
#    "all single-layer glazing [glass, film, rigid plastic] will have about the same U-value, 1.0 to
#    1.2 Btu/h·ft²·°F" = 5.7-6.8 W m⁻² K⁻¹ per m² cover, double glazing 0.6-0.7 = 3.4-4.0, "about 35 %"
#    less (Sanford, Farm Energy / eXtension ENCON module 2.6 "Glazing materials",
#    https://publish.extension.org/encon1/modules/encon2-farm-practices-to-improve-energy-efficiency/unit-2-6-greenhouses/glazing-materials/).
#    Assumptions on top: cover/floor area 1.0-1.5 (1.2 for a multi-span Venlo) and leakage 0.5-1.5
#    air changes per hour ≈ 0.7-2 W m⁻² K⁻¹ of a 4 m high house (ρc_p·H·N/3600); an energy screen
#    saves 20-45 % (as recalled from Bakker et al. 1995, not checked). Ranges below: the cited cover
#    values × 1.0-1.5, widened by the leakage; the central values (LITERATURE_U) are the cited
#    midpoints × 1.2. The ranges formerly cited as "Bakker et al. 1995 ch. 9; ASABE EP406.4 Table 1;
#    Kittas 1986" were written from memory and none of those texts could be found to check.
# solar gain fraction: assumption, not checked against a source: transmission 0.6-0.8 times the
#    sensible (not transpired) share of the absorbed radiation, 0.2-0.9: 0.1-0.7.
# transmission: PAR at the crop / outside PAR, assumption 0.45 (old, dirty or heavily structured)
#    to 0.85; formerly cited as Hemming et al. 2008, which could not be found to check; a
#    twin-wall polycarbonate sheet alone transmits 0.78-0.82 (ENCON module above) and a house's
#    structure takes more.
# installed lamp PPFD: assumption, 20-250 µmol m⁻² s⁻¹ of HPS top-lighting in northern Europe;
#    formerly cited as Heuvelink & Kierkels 2016, not found to check.
PLAUSIBLE = {
    "u_value_w_m2k": {
        "single_glass": (5.5, 12.0),
        "single_glass_screen": (3.0, 9.0),
        "double_glass": (3.0, 7.0),
        "polycarbonate_twinwall": (3.0, 7.0),
        "polyethylene_single": (5.5, 12.0),
        "polyethylene_double": (3.0, 7.0),
    },
    "solar_gain_fraction": (0.1, 0.7),
    "transmission": (0.45, 0.85),
    "installed_lamp_ppfd": (20.0, 250.0),
}
PLAUSIBLE_SOURCES = {
    "u_value_w_m2k": "Sanford, eXtension ENCON 2.6: single layer 5.7-6.8, double 3.4-4.0 W/m²K per m² cover, × cover/floor 1.0-1.5 and leakage",
    "solar_gain_fraction": "assumption, no source checked",
    "transmission": "assumption, no source checked",
    "installed_lamp_ppfd": "assumption, no source checked",
}
# The literature model a zone falls back to when its own fit is not validated: U per m² floor of
# the cover type (cited midpoint per m² cover × 1.2 m² cover per m² floor, plus 1 air change per
# hour of leakage ≈ 1.3 W/m²K; screens: −35 %), and a solar gain fraction in the middle of its range.
LITERATURE_U = {
    "single_glass": 8.8,
    "single_glass_screen": 5.7,
    "double_glass": 5.8,
    "polycarbonate_twinwall": 5.8,
    "polyethylene_single": 8.8,
    "polyethylene_double": 5.8,
}
LITERATURE_SOLAR_GAIN = 0.4
LITERATURE_SOURCES = {
    "u_value_w_m2k": "6.2 (single) or 3.7 (double) W/m²K per m² cover (Sanford, eXtension ENCON 2.6) × 1.2 m² cover "
    "per m² floor (assumption) + 1.3 W/m²K for 1 air change per hour of leakage in a 4 m house; "
    "with an energy screen as double glazing (assumption)",
    "solar_gain_fraction": "assumption: middle of the range 0.1-0.7 (no source checked)",
}


def plausible_range(parameter: str, cover_type: str | None = None) -> tuple[float, float]:
    ranges = PLAUSIBLE[parameter]
    if isinstance(ranges, dict):
        if cover_type not in ranges:
            raise KeyError(f"no U-value range for cover type {cover_type!r}; known: {sorted(ranges)}")
        return ranges[cover_type]
    return ranges


def implausible(parameters: dict[str, float | None], cover_type: str | None = None) -> list[str]:
    """Reasons, one per fitted parameter outside its literature range."""
    reasons = []
    for name, value in parameters.items():
        if value is None:
            continue
        low, high = plausible_range(name, cover_type)
        if not low <= value <= high:
            where = f" for {cover_type}" if name == "u_value_w_m2k" else ""
            reasons.append(
                f"{name} = {value:.3g} outside the literature range [{low:g}, {high:g}]{where} "
                f"({PLAUSIBLE_SOURCES[name]})"
            )
    return reasons


@dataclass(frozen=True)
class Fit:
    """A linear fit on all usable days and its blocked cross-validation."""

    coefficients: tuple[float, ...]
    intercept: float
    r2: float | None
    mae: float | None
    skill: float | None
    n_train: int  # usable days the final fit uses
    n_test: int  # out-of-fold test days of the cross-validation
    cv_scheme: str
    derived: str | None  # why the target is not independent of the regressors, else None


def _blocks(days: pl.Series, scheme: str) -> np.ndarray:
    if scheme == "week":
        iso = days.dt.iso_year() * 100 + days.dt.week()
        return iso.to_numpy()
    if scheme == "month":
        return (days.dt.year() * 100 + days.dt.month()).to_numpy()
    raise ValueError(f"cv scheme {scheme!r} is not one of {CV_SCHEMES}")


def exact_function_of_regressors(x: np.ndarray, y: np.ndarray, columns: list[str]) -> str | None:
    """Why y is (numerically) an exact linear function of one regressor or of all of them, else None."""
    from sklearn.linear_model import LinearRegression  # scikit-learn costs ~2 s: imported only to fit

    if len(y) < 3 or np.ptp(y) == 0:
        return None
    for k, name in enumerate(columns):
        if np.ptp(x[:, k]) > 0 and abs(np.corrcoef(x[:, k], y)[0, 1]) >= np.sqrt(EXACT_R2):
            return f"target is an exact linear function of {name} (|r| ≥ {np.sqrt(EXACT_R2):.5f})"
    fitted = LinearRegression().fit(x, y)
    r2 = 1 - np.sum((y - fitted.predict(x)) ** 2) / np.sum((y - y.mean()) ** 2)
    if r2 >= EXACT_R2:
        return f"target is an exact linear function of {', '.join(columns)} (in-sample R² {r2:.6f})"
    return None


def blocked_fit(
    days: pl.DataFrame,
    columns: list[str],
    target: str,
    *,
    intercept: bool,
    scheme: str = "week",
    provenance: str | None = None,
) -> Fit | None:
    """Non-negative least squares on all usable days, judged by leave-one-block-out cross-validation.

    None when fewer than 3 usable days exist (nothing can be fitted). `provenance` is the
    catalog's reason the target is derived from the regressors, if it is.
    """
    from sklearn.linear_model import LinearRegression  # scikit-learn costs ~2 s: imported only to fit

    usable = days.drop_nulls([*columns, target]).sort("day")
    if usable.height < 3:
        return None
    x, y = usable.select(columns).to_numpy().astype(float), usable[target].to_numpy().astype(float)
    model = LinearRegression(positive=True, fit_intercept=intercept).fit(x, y)
    derived = provenance or exact_function_of_regressors(x, y, columns)
    blocks = _blocks(usable["day"], scheme)
    months = usable["day"].dt.month().to_numpy()
    predicted, baseline = np.full(len(y), np.nan), np.full(len(y), np.nan)
    for block in np.unique(blocks):
        test = blocks == block
        if test.all():
            break
        fold = LinearRegression(positive=True, fit_intercept=intercept).fit(x[~test], y[~test])
        predicted[test] = fold.predict(x[test])
        for month in np.unique(months[test]):
            same = ~test & (months == month)
            baseline[test & (months == month)] = y[same].mean() if same.any() else y[~test].mean()
    scored = ~np.isnan(predicted)
    n_test = int(scored.sum())
    r2 = mae = skill = None
    if n_test >= 2:
        error, base = y[scored] - predicted[scored], y[scored] - baseline[scored]
        mse, mse_base = float(np.mean(error**2)), float(np.mean(base**2))
        variance = float(np.mean((y[scored] - y[scored].mean()) ** 2))
        r2 = 1 - mse / variance if variance > 0 else None
        mae = float(np.mean(np.abs(error)))
        skill = 1 - mse / mse_base if mse_base > 0 else None
    return Fit(
        tuple(float(c) for c in model.coef_),
        float(model.intercept_),
        r2,
        mae,
        skill,
        usable.height,
        n_test,
        f"leave-one-block-out, blocks = {'ISO weeks' if scheme == 'week' else 'calendar months'} "
        f"({len(np.unique(blocks))} blocks); climatology = monthly mean of the training blocks",
        derived,
    )


def judge(fit: Fit | None, *, skill_threshold: float, implausible_reasons: list[str], target: str) -> tuple[str, str]:
    """(status, reason) of a fitted model: derived, rejected or validated."""
    if fit is None:
        return "rejected", f"fewer than 3 days with {target} and its regressors: nothing to fit"
    if fit.derived:
        return "derived", f"not a validation: {fit.derived}"
    reasons = []
    if fit.n_test < MIN_TEST_DAYS:
        reasons.append(f"only {fit.n_test} out-of-fold test days (blocked cross-validation needs ≥ {MIN_TEST_DAYS})")
    elif fit.skill is None or fit.skill < skill_threshold:
        shown = "undefined" if fit.skill is None else f"{fit.skill:.2f}"
        reasons.append(f"skill vs monthly climatology {shown} < {skill_threshold:g} on {fit.n_test} test days")
    reasons += implausible_reasons
    if reasons:
        return "rejected", "; ".join(reasons)
    return "validated", f"skill {fit.skill:.2f} vs monthly climatology on {fit.n_test} test days, parameters plausible"
