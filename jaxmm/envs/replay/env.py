"""The replay environment (``env.name: replay``): a recorded market with the agent in its book.

Each step: (1) the agent's action becomes an order message and goes through the latency
pipeline exactly as in the simulated book (``jaxmm.envs.lob``); (2) the recorded events of
the step are applied to the book (:mod:`jaxmm.envs.replay.book`): the background volume
follows the recording, the agent's resting orders keep their FIFO queue position
(exact for LOBSTER, whose order ids give every cancellation's position; through the queue
model for L2 data) and fill when the recorded flow trades past them; (3) accounting, reward
components and the observation, as in the simulated book.

The observation layout, the action space, the reward components and the ``info`` entries are
the order-book environment's (the class extends :class:`~jaxmm.envs.lob.env.LobEnv` for them),
so a policy trained on the simulator is evaluated here with the same ``evaluate`` command;
``name`` is therefore ``"lob"``, the kind of observation and action a policy sees, while the
config section is ``env.name: replay``.

The recorded events are device arrays in the parameters; an episode starts at one of the
``starts`` steps (drawn by ``reset``), from the window's book recorded there, and consumes
the events of ``num_steps`` consecutive steps with ``lax.fori_loop`` per step, so batches of
episodes at many start offsets run vmapped in one program.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxmm.data.events import EventKind, EventStream
from jaxmm.envs.lob import agent, book as lob, observation as ob
from jaxmm.envs.lob.accounting import step_accounting
from jaxmm.envs.lob.env import LobEnv
from jaxmm.envs.lob.flow import uniforms_from_bits
from jaxmm.envs.replay.agent_step import deliver_message
from jaxmm.envs.replay.book import QUEUE_CONSERVATIVE, apply_events, window_book
from jaxmm.errors import ConfigError

EXACT_FLOAT_INT = 2 ** 24  # the book's prefix sums are exact below this many units in the window


@struct.dataclass
class ReplayEnvState:
    book: lob.Book
    time: jax.Array  # int32 step of the episode
    cursor: jax.Array  # int32 step of the recording
    mid: jax.Array  # float32, ticks
    cash: jax.Array  # float32, ticks * units (ticks relative to the price origin)
    inventory: jax.Array  # int32
    pnl: jax.Array  # float32, price units
    pending: jax.Array  # int32 (pipeline, 5)
    pending_valid: jax.Array  # bool (pipeline,)
    inventory_history: jax.Array  # int32 (pipeline,)
    mid_returns: jax.Array  # float32 (lags,)
    realised_var: jax.Array  # float32
    flow_imbalance: jax.Array  # float32
    markout_qty: jax.Array  # float32 (H,)
    markout_cost: jax.Array  # float32 (H,)
    markout_mid: jax.Array  # float32 (H,)


@struct.dataclass
class ReplayEnvParams:
    # The recording (device arrays).
    events: jax.Array  # int32 (N, 5)
    step_start: jax.Array  # int32 (S + 1,)
    starts: jax.Array  # int32 (K,), steps an episode may start at
    start_volume: jax.Array  # int32 (K, 2, P)
    start_origin: jax.Array  # int32 (K,)
    start_mid: jax.Array  # float32 (K,)
    # The agent, as in LobEnvParams.
    tick_size: jax.Array  # float32, price units per tick
    max_steps_in_episode: jax.Array  # int32
    dt: jax.Array  # float32
    max_inventory: jax.Array  # int32
    max_quote_offset: jax.Array  # float32
    max_quote_size: jax.Array  # int32
    quote_size: jax.Array  # int32
    latency: jax.Array  # int32
    latency_jitter: jax.Array  # int32
    maker_rebate: jax.Array  # float32
    taker_fee: jax.Array  # float32
    volume_scale: jax.Array  # float32
    level_capacity: jax.Array  # int32
    reward_weights: jax.Array  # float32 (components,)
    action_table: jax.Array  # float32 (actions, 5)
    qm_volatility: jax.Array  # float32
    qm_arrival_rate: jax.Array  # float32
    qm_fill_decay: jax.Array  # float32


class ReplayEnv(LobEnv):
    """Static settings: those of the simulated book plus how the recording is replayed."""

    def __init__(self, *, market_impact: bool = False, queue_model: str = QUEUE_CONSERVATIVE,
                 queue_power: float = 2.0, takes: bool = False, **lob_settings):
        super().__init__(**lob_settings)
        self.market_impact = market_impact
        self.queue_model = queue_model
        self.queue_power = queue_power
        self.takes = takes  # the stream holds TAKE rows (simulator streams)

    @property
    def default_params(self):
        raise ConfigError("the replay environment needs recorded data: build it with make_replay_env")

    @property
    def num_words(self) -> int:
        return 1  # the latency jitter

    def transition(self, noise, state: ReplayEnvState, action, params: ReplayEnvParams):
        jitter_uniform = uniforms_from_bits(noise)[0]
        mid0 = state.mid
        book, mine, pending, valid = deliver_message(self, jitter_uniform, state, action, params,
                                                     params.level_capacity, self.market_impact)
        delay = _delay(jitter_uniform, params, self.pipeline_length)
        quoted_book = book
        rejected0 = book.rejected
        book, flow = apply_events(book, params.events, params.step_start[state.cursor],
                                  params.step_start[state.cursor + 1], self.queue_model, self.queue_power,
                                  self.takes)
        mid = ob.mid_price(book, mid0)

        reward, fields, info = step_accounting(
            state, params, quoted_book=quoted_book, book=book, mine=mine, flow=flow, mid0=mid0, mid=mid,
            delay=delay, rejected0=rejected0, window_cancels=flow.window_cancels,
            market_spread=params.tick_size * ob.book_features(book, mid, 1, params.volume_scale)[2],
            markout_horizon=self.markout_horizon, pipeline_length=self.pipeline_length)
        new_state = ReplayEnvState(book=book, cursor=state.cursor + 1, pending=pending, pending_valid=valid,
                                   **fields)
        obs = self.get_obs(new_state, params)
        return obs, new_state, reward, jnp.array(False), info

    def reset_env(self, key: jax.Array, params: ReplayEnvParams):
        index = jax.random.randint(key, (), 0, params.starts.shape[0], dtype=jnp.int32)
        return self.reset_at(index, params)

    def reset_at(self, index: jax.Array, params: ReplayEnvParams):
        """The episode starting at ``params.starts[index]``."""
        n, h = self.pipeline_length, self.markout_horizon
        zeros_h = jnp.zeros((h,), jnp.float32)
        state = ReplayEnvState(
            book=window_book(params.start_volume[index], params.start_origin[index]), time=jnp.int32(0),
            cursor=params.starts[index], mid=params.start_mid[index], cash=jnp.float32(0.0),
            inventory=jnp.int32(0), pnl=jnp.float32(0.0),
            pending=jnp.zeros((n, agent.MESSAGE_DIM), jnp.int32), pending_valid=jnp.zeros((n,), bool),
            inventory_history=jnp.zeros((n,), jnp.int32),
            mid_returns=jnp.zeros((self.obs_mid_lags,), jnp.float32), realised_var=jnp.float32(0.0),
            flow_imbalance=jnp.float32(0.0), markout_qty=zeros_h, markout_cost=zeros_h, markout_mid=zeros_h)
        return self.get_obs(state, params), state


def _delay(jitter_uniform, params, pipeline_length: int) -> jax.Array:
    jitter = jnp.floor(jitter_uniform * (params.latency_jitter + 1).astype(jnp.float32))
    return jnp.minimum(params.latency + jitter.astype(jnp.int32), pipeline_length - 1)


# ------------------------------------------------------------------------------ building
def episode_starts(stream: EventStream, num_steps: int, stride: int) -> np.ndarray:
    """Steps an episode of ``num_steps`` steps can start at: a two-sided book there, the whole
    episode inside the recording, every ``stride``-th such step."""
    last = stream.num_steps - num_steps
    if last < 0:
        raise ConfigError(f"the replayed window holds {stream.num_steps} steps, fewer than env.num_steps="
                          f"{num_steps}; use a longer window or shorter episodes")
    candidates = np.arange(0, last + 1)
    candidates = candidates[~np.isnan(stream.start_mid[candidates])]
    if not len(candidates):
        raise ConfigError("no step of the replayed window starts with a two-sided book")
    return candidates[::stride]


def replay_params(stream: EventStream, cfg, reward_weights, starts: np.ndarray, quote_model) -> ReplayEnvParams:
    """Device parameters of a replay of ``stream`` with the agent of ``cfg`` (a ReplayEnvConfig-like
    object with the agent fields and ``lob_view``); ``quote_model``: (sigma, A, k) in episode units."""
    from jaxmm.envs.lob.build import action_table

    window_total = int(stream.start_volume.sum(axis=2).max()) if len(stream.start_volume) else 0
    if window_total + 2 * cfg.max_quote_size >= EXACT_FLOAT_INT:
        raise ConfigError(f"{cfg.data}: {window_total} units rest in the book window, too many for exact "
                          f"sums (below {EXACT_FLOAT_INT}); use a smaller env.half_width")
    tick = stream.tick / stream.price_scale
    lob_cfg = cfg.lob_view(tick_size=tick)
    f32, i32 = (lambda x: jnp.asarray(x, jnp.float32)), (lambda x: jnp.asarray(x, jnp.int32))
    volatility, arrival, decay = quote_model
    return ReplayEnvParams(
        events=i32(stream.events), step_start=i32(stream.step_start), starts=i32(starts),
        start_volume=i32(stream.start_volume[starts]), start_origin=i32(stream.start_origin[starts]),
        start_mid=f32(stream.start_mid[starts]), tick_size=f32(tick), max_steps_in_episode=i32(cfg.num_steps),
        dt=f32(1.0 / cfg.num_steps), max_inventory=i32(cfg.max_inventory), max_quote_offset=f32(cfg.max_quote_offset),
        max_quote_size=i32(cfg.max_quote_size), quote_size=i32(cfg.quote_size), latency=i32(cfg.latency),
        latency_jitter=i32(cfg.latency_jitter), maker_rebate=f32(cfg.maker_rebate), taker_fee=f32(cfg.taker_fee),
        volume_scale=f32(cfg.volume_scale), level_capacity=i32(cfg.level_capacity),
        reward_weights=f32(reward_weights), action_table=f32(action_table(lob_cfg)),
        qm_volatility=f32(volatility), qm_arrival_rate=f32(arrival), qm_fill_decay=f32(decay))


def replay_env(cfg, tick_size: float, *, market_impact: bool, queue_model: str, queue_power: float,
               takes: bool) -> ReplayEnv:
    """The static environment object for the agent settings of ``cfg``; ``takes``: the stream holds
    TAKE rows."""
    from jaxmm.envs.lob.build import env_from_config

    settings = env_from_config(cfg.lob_view(tick_size=tick_size)).static_settings()
    return ReplayEnv(market_impact=market_impact, queue_model=queue_model, queue_power=queue_power, takes=takes,
                     **{name.lstrip("_"): value for name, value in settings})


def fitted_quote_model(stream: EventStream, cfg) -> tuple[float, float, float]:
    """(sigma, A, k) of the closed-form baselines from the replayed data, in the book environment's
    units (price units; time in episodes of ``num_steps`` steps)."""
    volatility, arrival_rate, fill_decay = _per_second_quote_model(stream)
    episode_seconds = cfg.num_steps * stream.step_seconds
    return volatility * math.sqrt(episode_seconds), arrival_rate * episode_seconds, fill_decay


_QUOTE_MODELS: dict = {}  # id(stream) -> (stream, per-second fit); streams are cached by _load


def _per_second_quote_model(stream: EventStream) -> tuple[float, float, float]:
    from jaxmm.data.calibration import calibrate_model
    from jaxmm.data.market_features import market_features
    from jaxmm.envs.model_config import ModelEnvConfig

    cached = _QUOTE_MODELS.get(id(stream))
    if cached is None or cached[0] is not stream:
        fitted, _, _ = calibrate_model(market_features(stream), ModelEnvConfig())
        cached = _QUOTE_MODELS[id(stream)] = (stream, (fitted.volatility, fitted.arrival_rate, fitted.fill_decay))
    return cached[1]


@functools.lru_cache(maxsize=8)
def _load(data: str, trades, window, step_seconds: float, half_width: int, mtime: float):
    from jaxmm.data.calibrate_cli import load_stream

    stream, _ = load_stream(data, trades, window=window, step_seconds=step_seconds, half_width=half_width)
    return stream


def load_replay_stream(cfg) -> EventStream:
    """The recorded stream of ``cfg`` (cached per file, window and step within a process)."""
    from pathlib import Path

    from jaxmm.errors import DataError

    path = Path(cfg.data)
    if not path.is_file():
        raise DataError(f"{path}: file not found (env.data)")
    return _load(str(path), cfg.trades, cfg.window, float(cfg.step_seconds), int(cfg.half_width),
                 path.stat().st_mtime)


def make_replay_env(cfg, reward_weights=None):
    """(ReplayEnv, ReplayEnvParams) from a :class:`~jaxmm.envs.replay.config.ReplayEnvConfig`."""
    from jaxmm.envs.lob.config import LOB_REWARD_COMPONENTS

    weights = reward_weights if reward_weights is not None else [
        cfg.reward_defaults.get(name, 0.0) for name in LOB_REWARD_COMPONENTS]
    stream = load_replay_stream(cfg)
    starts = episode_starts(stream, cfg.num_steps, cfg.start_stride)
    tick = stream.tick / stream.price_scale
    if cfg.calibrate_quote_model:
        quote_model = fitted_quote_model(stream, cfg)
    else:  # the simulated book's placeholder: fills decay by e per two ticks
        quote_model = (tick, 1.0, 1.0 / (2.0 * tick))
    env = replay_env(cfg, tick, market_impact=cfg.market_impact, queue_model=cfg.queue_model,
                     queue_power=cfg.queue_power, takes=bool(np.any(stream.events[:, 0] == EventKind.TAKE)))
    return env, replay_params(stream, cfg, weights, starts, quote_model)
