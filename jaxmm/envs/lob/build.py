"""Build the order-book environment and its parameters from a :class:`LobEnvConfig`.

The initial book is precomputed here (``warmup_steps`` of flow alone from an
empty book, fixed seed) and stored in the parameters, so ``reset`` only copies it.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxmm.envs.action_grid import NO_QUOTE
from jaxmm.envs.lob import book as lob
from jaxmm.envs.lob.agent import ACTION_DIM
from jaxmm.envs.lob.calibration import calibrate_quote_model
from jaxmm.envs.lob.config import LOB_REWARD_COMPONENTS, LobEnvConfig
from jaxmm.envs.lob.env import LobEnv
from jaxmm.envs.lob.flow import (FlowParams, flow_step, flow_uniforms, geometric_cdf, power_law_cdf,
                                 uniforms_from_bits)
from jaxmm.envs.lob.observation import mid_price
from jaxmm.envs.lob.state import LobEnvParams

WARMUP_SEED = 0
CALIBRATION_SEED = 0  # the quote-model fit is deterministic: the same book gives the same fit
# Placeholder quote model before calibration: fills decay by e per this many ticks of depth.
PRIOR_DECAY_TICKS = 2.0


def _f32(x) -> jax.Array:
    return jnp.asarray(x, dtype=jnp.float32)


def _i32(x) -> jax.Array:
    return jnp.asarray(x, dtype=jnp.int32)


def action_table(cfg: LobEnvConfig) -> np.ndarray:
    """Discrete: every (bid, ask) pair of ``offset_grid`` at ``quote_size``, a no-quote row
    and, with ``flatten_action``, a flatten row (no quotes, market order for the whole inventory)."""
    if cfg.action_type != "discrete":
        return np.zeros((1, ACTION_DIM), np.float32)
    size = float(cfg.quote_size)
    rows = [(b, a, size, size, 0.0) for b, a in itertools.product(cfg.offset_grid, cfg.offset_grid)]
    if not any(math.isinf(b) and math.isinf(a) for b, a, *_ in rows):
        rows.append((NO_QUOTE, NO_QUOTE, 0.0, 0.0, 0.0))
    if cfg.flatten_action:
        rows.append((NO_QUOTE, NO_QUOTE, 0.0, 0.0, 1.0))
    return np.asarray(rows, np.float32)


def env_from_config(cfg: LobEnvConfig) -> LobEnv:
    return LobEnv(num_levels=cfg.num_levels, visible_levels=cfg.visible_levels,
                  limit_slots=cfg.limit_slots, cancel_slots=cfg.cancel_slots,
                  pipeline_length=cfg.latency + cfg.latency_jitter + 1, obs_mid_lags=cfg.obs_mid_lags,
                  markout_horizon=cfg.markout_horizon, action_type=cfg.action_type,
                  num_actions=len(action_table(cfg)), quote_from_touch=cfg.quote_reference == "touch",
                  inventory_relative=cfg.quote_sides == "inventory",
                  max_quote_offset=cfg.max_quote_offset, max_quote_size=cfg.max_quote_size,
                  layout=cfg.layout)


def flow_params(cfg: LobEnvConfig) -> FlowParams:
    return FlowParams(
        limit_probability=_f32(cfg.limit_rate / cfg.limit_slots), cancel_rate=_f32(cfg.cancel_rate),
        market_probability=_f32((1.0 - cfg.informed_share) * cfg.market_rate / 2),
        informed_probability=_f32(cfg.informed_share * cfg.market_rate),
        hawkes_jump=_f32(cfg.hawkes_jump), hawkes_decay=_f32(cfg.hawkes_decay),
        distance_cdf=_f32(power_law_cdf(cfg.max_distance, cfg.distance_exponent)),
        size_cdf=_f32(geometric_cdf(cfg.size_mean, cfg.max_order_size)),
        fair_value_volatility=_f32(cfg.fair_value_volatility),
        jump_probability=_f32(cfg.jump_probability), jump_size=_f32(cfg.jump_size),
        level_capacity=_i32(cfg.level_capacity))


def warm_book(cfg: LobEnvConfig, flow: FlowParams, steps: int, seed: int = WARMUP_SEED):
    """Run the flow alone from an empty book; returns (book, mid, fair value)."""
    half = cfg.half_width
    words = (flow_uniforms(cfg.limit_slots, cfg.cancel_slots) + 1) // 2

    def body(carry, key):
        book, mid, fair_value, excitation = carry
        uniforms = uniforms_from_bits(jax.random.bits(key, (words,), dtype=jnp.uint32))
        book, fair_value, excitation, _ = flow_step(
            book, uniforms, flow, mid, fair_value, excitation, cfg.limit_slots, cfg.cancel_slots)
        mid = mid_price(book, mid)
        book, _ = lob.shift_window(book, jnp.round(mid).astype(jnp.int32) - half)
        return (book, mid, fair_value, excitation), None

    start = (lob.empty_book(cfg.num_levels, -half), _f32(0.0), _f32(0.0),
             jnp.zeros((lob.NUM_SIDES,), jnp.float32))
    keys = jax.random.split(jax.random.key(seed), steps)
    (book, mid, fair_value, _), _ = jax.jit(lambda s, k: jax.lax.scan(body, s, k))(start, keys)
    return book, mid, fair_value


def params_from_config(cfg: LobEnvConfig, reward_weights=None) -> LobEnvParams:
    weights = reward_weights if reward_weights is not None else [
        cfg.reward_defaults.get(name, 0.0) for name in LOB_REWARD_COMPONENTS]
    flow = flow_params(cfg)
    book, mid, fair_value = warm_book(cfg, flow, cfg.warmup_steps)
    tick = cfg.tick_size
    return LobEnvParams(
        flow=flow, initial_book=book, initial_mid=_f32(mid), initial_fair_value=_f32(fair_value),
        tick_size=_f32(tick), max_steps_in_episode=_i32(cfg.num_steps), dt=_f32(cfg.dt),
        max_inventory=_i32(cfg.max_inventory), max_quote_offset=_f32(cfg.max_quote_offset),
        max_quote_size=_i32(cfg.max_quote_size), quote_size=_i32(cfg.quote_size),
        latency=_i32(cfg.latency), latency_jitter=_i32(cfg.latency_jitter),
        maker_rebate=_f32(cfg.maker_rebate), taker_fee=_f32(cfg.taker_fee),
        volume_scale=_f32(cfg.volume_scale), reward_weights=_f32(weights),
        action_table=_f32(action_table(cfg)),
        qm_volatility=_f32(tick * max(cfg.fair_value_volatility, 1e-3) / math.sqrt(cfg.dt)),
        qm_arrival_rate=_f32(cfg.market_rate / 2 / cfg.dt),
        qm_fill_decay=_f32(1.0 / (PRIOR_DECAY_TICKS * tick)))


def make_lob_env(cfg: LobEnvConfig, reward_weights=None) -> tuple[LobEnv, LobEnvParams]:
    env = env_from_config(cfg)
    params = params_from_config(cfg, reward_weights)
    if cfg.calibrate_quote_model:
        params = params.replace(**_fitted_quote_model(cfg, params))
    return env, params


_QUOTE_MODEL_FITS: dict = {}  # probe config -> fitted qm_* leaves; the fit is deterministic


def _fitted_quote_model(cfg: LobEnvConfig, params: LobEnvParams) -> dict:
    """The quote model fitted to the book of ``cfg``, computed once per book and process.

    The fit quotes fixed depths from the mid, so it runs on the continuous,
    mid-referenced variant of the same book (only the action table differs in the
    params), whatever the agent's action format."""
    probe_cfg = dataclasses.replace(cfg, action_type="continuous", quote_reference="mid",
                                    quote_sides="bid_ask", offset_grid=(), flatten_action=False)
    if probe_cfg not in _QUOTE_MODEL_FITS:
        probe_params = params.replace(action_table=jnp.asarray(action_table(probe_cfg), jnp.float32))
        fitted = calibrate_quote_model(env_from_config(probe_cfg), probe_params,
                                       jax.random.key(CALIBRATION_SEED))
        _QUOTE_MODEL_FITS[probe_cfg] = {name: getattr(fitted, name)
                                        for name in ("qm_volatility", "qm_arrival_rate", "qm_fill_decay")}
    return _QUOTE_MODEL_FITS[probe_cfg]
