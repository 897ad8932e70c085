"""Fixed-quote rollouts of the order-book environment and the quote-model fit of the baselines.

``calibrate_quote_model(env, params, key)`` runs, outside any caller's jit, batches
of episodes quoting symmetrically at fixed depths (unit size, no market orders),
measures the passive fill rate per side and unit time at each depth, fits
``rate = A exp(-k depth)`` by least squares on log rates (depths in price units),
takes ``sigma`` from the per-step mid changes (price units per sqrt of episode
time), and returns params with ``qm_volatility``, ``qm_arrival_rate`` and
``qm_fill_decay`` replaced. ``build.make_lob_env`` calls it when
``env.calibrate_quote_model`` is true.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxmm.envs.lob import observation as ob
from jaxmm.envs.lob.agent import ACTION_DIM

CALIBRATION_DEPTHS = (0.5, 1.5, 2.5, 3.5, 4.5, 6.5)  # ticks from the mid
CALIBRATION_EPISODES = 32
CALIBRATION_STEPS = 400


def quote_action(depth_ticks, size=1.0) -> jax.Array:
    return jnp.stack([depth_ticks, depth_ticks, size, size, 0.0]).astype(jnp.float32)


@partial(jax.jit, static_argnames=("env", "batch", "steps"))
def fixed_quote_rollout(env, params, key, depth_ticks, batch: int, steps: int):
    """``batch`` episodes of ``steps`` steps quoting at ``depth_ticks``; per-step records
    (steps, batch): bid/ask fills, mid, market spread, depth profile, markouts."""
    action = jnp.broadcast_to(quote_action(jnp.float32(depth_ticks)), (batch, ACTION_DIM))
    reset_key, key = jax.random.split(key)
    _, state = jax.vmap(env.reset_env, in_axes=(0, None))(jax.random.split(reset_key, batch), params)
    transition = jax.vmap(env.transition, in_axes=(0, 0, 0, None))
    profile = jax.vmap(lambda b: ob.depth_profile(b, env.visible_levels))

    def step(state, k):
        _, state, _, _, info = transition(env.sample_noise(k, (batch,)), state, action, params)
        record = dict(bid_fill=info["bid_fill"], ask_fill=info["ask_fill"], mid=state.mid,
                      market_spread=info["market_spread"], profile=profile(state.book),
                      markout=info["markout"], markout_volume=info["markout_volume"],
                      adverse_selection=info["adverse_selection"])
        return state, record

    _, records = jax.lax.scan(step, state, jax.random.split(key, steps))
    return records


def fit_fill_rates(depths_price: np.ndarray, rates: np.ndarray) -> tuple[float, float]:
    """Least-squares fit of log(rate) = log(A) - k * depth over depths with fills."""
    keep = rates > 0
    if keep.sum() < 2:
        raise ValueError("too few depths with fills to fit a fill-rate curve")
    slope, intercept = np.polyfit(depths_price[keep], np.log(rates[keep]), 1)
    return float(np.exp(intercept)), float(max(-slope, 1e-6))


def measure(env, params, key, depths=CALIBRATION_DEPTHS, batch=CALIBRATION_EPISODES,
            steps=CALIBRATION_STEPS) -> dict:
    """Fill rate per side and unit time at each depth, and the per-step mid-change std (ticks)."""
    dt = float(params.dt)
    rates, changes = [], []
    for depth, k in zip(depths, jax.random.split(key, len(depths))):
        rec = jax.tree.map(np.asarray, fixed_quote_rollout(env, params, k, depth, batch, steps))
        rates.append(0.5 * (rec["bid_fill"] > 0).mean() / dt + 0.5 * (rec["ask_fill"] > 0).mean() / dt)
        changes.append(np.diff(rec["mid"], axis=0).ravel())
    return dict(depths_ticks=np.asarray(depths, np.float64), rates=np.asarray(rates),
                mid_change_std=float(np.std(np.concatenate(changes))))


def calibrate_quote_model(env, params, key):
    stats = measure(env, params, key)
    tick = float(params.tick_size)
    arrival, decay = fit_fill_rates(stats["depths_ticks"] * tick, stats["rates"])
    volatility = stats["mid_change_std"] * tick / np.sqrt(float(params.dt))
    return params.replace(qm_volatility=jnp.float32(volatility), qm_arrival_rate=jnp.float32(arrival),
                          qm_fill_decay=jnp.float32(decay))
