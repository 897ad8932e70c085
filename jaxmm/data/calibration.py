"""Fit the environments to a window of market data: the model environment and the order book.

Both take :class:`~jaxmm.data.market_features.MarketFeatures` of the window (steps whose
starting book has no mid, such as the file's first step while its book is being submitted,
are left out) and a base config section whose other settings (agent, rewards, episode
length) they keep. Each fitted value comes with a standard error in the returned table.

Model environment (time unit: seconds, prices in currency):

* ``volatility``, ``drift``: from the mid at each step start (increments over
  :data:`VOLATILITY_HORIZON_STEPS` steps);
* ``arrival_rate`` A and ``fill_decay`` k: a quote at depth d from the mid is filled by an
  aggressor that reaches d (its worst price is at least d beyond the mid), so the rate at
  which aggressors reach each depth is ``A exp(-k d)`` per side (trade-through distances);
* the episode keeps the base's number of steps, each ``step_seconds`` long.

Order book (rates per step):

* ``limit_rate``: limit orders per side and step; ``distance_exponent`` and
  ``max_distance``: the power law of their distance from the opposite best price (MLE);
* ``size_mean`` (geometric, truncated at ``max_order_size``, MLE) from limit-order sizes;
  the market-order size distribution is reported beside it;
* ``cancel_rate``: cancellations per resting unit and step, over levels within
  ``max_distance`` of the mid (volume leaving the simulator's window is not a cancellation);
* ``market_rate``: aggressors per step, both sides; ``hawkes_jump`` and ``hawkes_decay``
  (with ``hawkes=True``) by discrete-time Hawkes MLE;
* ``informed_share``: by simulated moments: the book is simulated for a grid of shares with
  everything else as fitted, and the share whose mean markout of aggressors after
  :data:`MARKOUT_HORIZON_STEPS` steps matches the data's is taken (linear interpolation);
  the market rate is then scaled so that the simulated aggressor rate matches.
  ``fair_value_volatility`` is not identified by these features and stays the base's.
"""

from __future__ import annotations

import dataclasses
import math

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxmm.data.estimators import (Estimate, drift, fill_curve, hawkes, power_law_exponent, rate,
                                   truncated_geometric_mean, volatility)
from jaxmm.data.market_features import MarketFeatures

VOLATILITY_HORIZON_STEPS = 10
MIN_FILL_COUNT = 10  # a depth enters the fill-intensity fit when this many aggressors reached it
MARKOUT_HORIZON_STEPS = 100
INFORMED_GRID = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)
SIMULATION_ENVS = 8
SIMULATION_STEPS = 2000
SIMULATION_BURN_IN = 100
SIMULATION_SEED = 0
MARKOUT_CURVE_DEGREE = 2
INVERSION_POINTS = 2001
HALF_WIDTH_MARGIN = 2  # ticks of window beyond the farthest limit order
MAX_LEVEL_FILL = 0.5  # the level capacity is at least twice the largest resting level seen
EXACT_FLOAT_INT = 2 ** 24
DRIFT_NOTE = "env.drift: 0 in the config, the fitted drift is within two standard errors of 0"


def _row(parameter: str, estimate, unit: str, how: str) -> dict:
    value, error = (estimate.value, estimate.standard_error) if isinstance(estimate, Estimate) else (estimate, None)
    return {"parameter": parameter, "value": float(value),
            "standard_error": None if error is None or not math.isfinite(error) else float(error),
            "unit": unit, "how": how}


def valid_steps(features: MarketFeatures) -> np.ndarray:
    """Steps whose starting book has a mid (both sides quoted at some point before)."""
    return np.flatnonzero(~np.isnan(features.mid[:-1]))


def _first_valid(features: MarketFeatures) -> int:
    steps = valid_steps(features)
    if not len(steps):
        raise ValueError("no step of the window starts with a two-sided book")
    return int(steps[0])


def mid_path(features: MarketFeatures) -> np.ndarray:
    """The mid in ticks from the first step with a two-sided book to the end."""
    return features.mid[_first_valid(features):]


# ---------------------------------------------------------------------------------- model env
def calibrate_model(features: MarketFeatures, base):
    """(ModelEnvConfig, table): the model environment fitted to ``features``; see the module docstring."""
    from jaxmm.envs.model_config import ModelEnvConfig

    first = _first_valid(features)
    dt = features.step_seconds
    mid = mid_path(features) * features.tick
    sigma = volatility(mid, dt, VOLATILITY_HORIZON_STEPS)
    mu = drift(mid, dt, sigma.value)
    a = features.aggressors
    keep = a["step"] >= first
    reach = (a["side"] * (a["worst"] - a["mid"]))[keep] * features.tick
    duration = (features.steps - first) * dt
    curve = fill_curve(reach, duration, MIN_FILL_COUNT)
    start_mid = features.reference_price + features.tick * features.mid[first]
    cfg = dataclasses.replace(base, initial_mid=float(start_mid), volatility=sigma.value, drift=mu.value,
                              arrival_rate=curve.arrival_rate.value, fill_decay=curve.fill_decay.value,
                              horizon=base.num_steps * dt, max_depth=None)
    assert isinstance(cfg, ModelEnvConfig)
    cfg.check()
    table = [
        _row("volatility", sigma, "currency / sqrt(s)", f"mid increments over {VOLATILITY_HORIZON_STEPS} steps"),
        _row("drift", mu, "currency / s", "mid change over the window"),
        _row("arrival_rate", curve.arrival_rate, "aggressors / s / side",
             "A of A exp(-k depth): rate of aggressors reaching each depth"),
        _row("fill_decay", curve.fill_decay, "1 / currency", "k of A exp(-k depth)"),
        _row("horizon", cfg.horizon, "s", f"base num_steps ({base.num_steps}) x step_seconds"),
        _row("initial_mid", start_mid, "currency", "mid at the window start"),
    ]
    extra = {"fill_curve": {"depth": (curve.depths * features.tick).tolist(), "rate": curve.rates.tolist(),
                            "count": curve.counts.tolist()}}
    return cfg, table, extra


# ---------------------------------------------------------------------------------- order book
def markout_moment(features: MarketFeatures) -> Estimate:
    """Mean markout of aggressors after :data:`MARKOUT_HORIZON_STEPS` steps (ticks), with a standard
    error from blocks of that many steps (markouts of nearby aggressors share their mid path)."""
    first = _first_valid(features)
    a = features.aggressors
    later = a["step"] + 1 + MARKOUT_HORIZON_STEPS
    keep = (a["step"] >= first) & (later <= features.steps)
    values = a["side"][keep] * (features.mid[later[keep]] - a["notional"][keep] / a["size"][keep])
    if not len(values):
        raise ValueError(f"the window is too short for markouts over {MARKOUT_HORIZON_STEPS} steps")
    blocks = a["step"][keep] // MARKOUT_HORIZON_STEPS
    sums = np.bincount(blocks - blocks.min(), weights=values)
    counts = np.bincount(blocks - blocks.min())
    used = counts > 0
    block_means = sums[used] / counts[used]
    error = block_means.std(ddof=1) / math.sqrt(len(block_means)) if len(block_means) > 1 else math.inf
    return Estimate(float(values.mean()), float(error))


@functools.partial(jax.jit, static_argnames=("limit_slots", "cancel_slots", "half_width", "steps", "envs"))
def _simulated_moments(book, mid, fair_value, flows, key, *, limit_slots, cancel_slots, half_width, steps, envs):
    """Per candidate flow (leading axis of ``flows``): (aggressors per step, mean markout)."""
    from jaxmm.data.events import EventKind
    from jaxmm.data.recorder import _simulate

    def one(flow, key):
        keys = jax.random.split(key, envs * steps).reshape(envs, steps)
        run = jax.vmap(lambda k: _simulate(book, mid, fair_value, flow, k, limit_slots=limit_slots,
                                           cancel_slots=cancel_slots, half_width=half_width)[0])
        rows, _, notional, start = run(keys)
        mids = start[2]  # (envs, steps) mid at each step start
        step = jnp.arange(steps)[None, :, None]
        take = (rows[..., 0] == EventKind.TAKE) & (rows[..., 3] > 0) & (step >= SIMULATION_BURN_IN)
        later = step + 1 + MARKOUT_HORIZON_STEPS
        usable = take & (later < steps)
        later_mid = jnp.take_along_axis(mids, jnp.clip(later[..., 0], 0, steps - 1), axis=1)[..., None]
        sign = jnp.where(rows[..., 1] == 0, 1.0, -1.0)
        price = notional / jnp.maximum(rows[..., 3], 1)
        markout = jnp.sum(jnp.where(usable, sign * (later_mid - price), 0.0)) / jnp.maximum(jnp.sum(usable), 1)
        return jnp.sum(take) / (envs * (steps - SIMULATION_BURN_IN)), markout

    return jax.vmap(one)(flows, jax.random.split(key, len(INFORMED_GRID)))


def fit_informed_share(cfg, features: MarketFeatures, seed: int = SIMULATION_SEED):
    """(informed share, its standard error, market-rate factor, grid table) by simulated markouts."""
    from jaxmm.data.recorder import warmed_book
    from jaxmm.envs.lob.build import flow_params

    target = markout_moment(features)
    candidates = [flow_params(dataclasses.replace(cfg, informed_share=share)) for share in INFORMED_GRID]
    flows = jax.tree.map(lambda *leaves: jnp.stack(leaves), *candidates)
    book, mid, fair_value = warmed_book(cfg, candidates[0])
    rates, markouts = (np.asarray(x, np.float64) for x in _simulated_moments(
        book, mid, fair_value, flows, jax.random.key(seed), limit_slots=cfg.limit_slots,
        cancel_slots=cfg.cancel_slots, half_width=cfg.half_width, steps=SIMULATION_STEPS, envs=SIMULATION_ENVS))
    grid = np.asarray(INFORMED_GRID)
    # The simulated markout rises smoothly with the share: a quadratic through the (noisy) grid
    # points, inverted on the grid's range; the error is the data's, through the local slope.
    curve = np.polynomial.Polynomial.fit(grid, markouts, MARKOUT_CURVE_DEGREE)
    fine = np.linspace(grid[0], grid[-1], INVERSION_POINTS)
    values = curve(fine)
    share = float(fine[np.argmin(np.abs(values - target.value))])
    slope = float(curve.deriv()(share))
    error = target.standard_error / slope if slope > 0 else math.inf
    factor = float(np.interp(share, grid, rates))
    table = {"informed_share": grid.tolist(), "markout": markouts.tolist(), "aggressors_per_step": rates.tolist(),
             "fitted_markout": curve(grid).tolist(),
             "data_markout": target.value, "data_markout_standard_error": target.standard_error}
    return share, error, factor, table


def calibrate_lob(features: MarketFeatures, base, *, informed: bool = True, with_hawkes: bool = False,
                  seed: int = SIMULATION_SEED):
    """(LobEnvConfig, table, extra): the order-book environment fitted to ``features``."""
    first = _first_valid(features)
    steps = features.steps - first
    limits, cancels, aggressors = features.limits, features.cancels, features.aggressors
    lk = limits["step"] >= first
    distance, size = limits["distance"][lk], limits["size"][lk]
    if len(distance) < 2:
        raise ValueError("too few limit orders in the window")
    max_distance = int(distance.max())
    exponent = power_law_exponent(distance, max_distance)
    limit_rate = rate(len(distance), 2.0 * steps)
    ak = aggressors["step"] >= first
    market_sizes = aggressors["size"][ak]
    max_size = int(max(size.max(), market_sizes.max() if len(market_sizes) else 1))
    size_mean = truncated_geometric_mean(size, max_size)
    near = cancels["distance"] < max_distance
    ck = (cancels["step"] >= first) & near
    exposure = features.resting[first:, :, :max_distance].sum()
    cancel_rate = rate(np.count_nonzero(ck), float(exposure))
    market_rate = rate(np.count_nonzero(ak), float(steps))
    half_width = max(base.half_width, max_distance + HALF_WIDTH_MARGIN)
    largest = int(features.resting.max()) if features.resting.size else 0
    capacity = max(base.level_capacity, int(math.ceil(largest / MAX_LEVEL_FILL)))
    capacity = min(capacity, EXACT_FLOAT_INT // (2 * half_width) - 1)
    start_mid = features.reference_price + features.tick * features.mid[first]
    reference = round(round(start_mid / features.tick) * features.tick, 10)
    updates = dict(tick_size=features.tick, reference_price=reference, half_width=half_width,
                   visible_levels=min(base.visible_levels, half_width), limit_rate=limit_rate.value,
                   limit_slots=max(base.limit_slots, int(math.ceil(limit_rate.value))),
                   max_distance=max_distance, distance_exponent=exponent.value, cancel_rate=cancel_rate.value,
                   market_rate=min(market_rate.value, 1.0), size_mean=max(size_mean.value, 1.0),
                   max_order_size=max_size, level_capacity=capacity, informed_share=0.0,
                   max_quote_offset=min(base.max_quote_offset, half_width - 1))
    table = []
    extra = {"limit_distance_counts": np.bincount(distance, minlength=max_distance + 1)[1:].tolist(),
             "limit_size_counts": np.bincount(size)[1:].tolist(),
             "market_size_counts": np.bincount(market_sizes)[1:].tolist() if len(market_sizes) else [],
             "market_size_mean": float(market_sizes.mean()) if len(market_sizes) else None}
    if with_hawkes:
        fit = hawkes(features.arrivals()[first:])
        # market_rate is the rate without excitation: twice the baseline per side.
        updates.update(hawkes_jump=fit.jump.value, hawkes_decay=fit.decay.value,
                       market_rate=min(2.0 * fit.baseline.value, 1.0))
        market_rate = Estimate(2.0 * fit.baseline.value, 2.0 * fit.baseline.standard_error)
        table += [_row("hawkes_jump", fit.jump, "probability per arrival", "discrete-time Hawkes MLE"),
                  _row("hawkes_decay", fit.decay, "per step", "discrete-time Hawkes MLE (profile likelihood)"),
                  _row("hawkes_baseline", fit.baseline, "probability per step and side", "discrete-time Hawkes MLE")]
    cfg = dataclasses.replace(base, **updates)
    observed_rate = np.count_nonzero(ak) / steps
    if informed:
        share, error, simulated_rate, grid = fit_informed_share(cfg, features, seed)
        factor = observed_rate / simulated_rate if simulated_rate > 0 else 1.0
        cfg = dataclasses.replace(cfg, informed_share=share, market_rate=min(cfg.market_rate * factor, 1.0))
        table.append(_row("informed_share", Estimate(share, error), "fraction of market orders",
                          f"simulated mean markout after {MARKOUT_HORIZON_STEPS} steps matched to the data's"))
        extra["informed_fit"] = grid
    cfg.check()
    table = [
        _row("tick_size", features.tick, "currency", "price step of the data"),
        _row("reference_price", reference, "currency", "mid at the window start"),
        _row("limit_rate", limit_rate, "orders / side / step", "limit orders per side and step"),
        _row("distance_exponent", exponent, "",
             f"power-law MLE of the distance from the opposite best, 1..{max_distance}"),
        _row("max_distance", max_distance, "ticks", "farthest limit order from the opposite best"),
        _row("size_mean", size_mean, "units", f"truncated geometric MLE of limit-order sizes, 1..{max_size}"),
        _row("max_order_size", max_size, "units", "largest order seen"),
        _row("cancel_rate", cancel_rate, "cancels / resting unit / step",
             f"cancellations within {max_distance} ticks of the mid per unit resting there"),
        _row("market_rate", Estimate(cfg.market_rate, market_rate.standard_error), "aggressors / step",
             ("twice the Hawkes baseline" if with_hawkes else "aggressors per step, both sides")
             + (", scaled so the simulated aggressor rate matches the data's" if informed else "")),
    ] + table
    return cfg, table, extra

