"""The Avellaneda-Stoikov / Cartea-Jaimungal-Penalva market-making model.

Per step of length ``dt = horizon / num_steps``:

1. The agent quotes a bid at ``mid - bid_depth`` and an ask at ``mid + ask_depth``
   (no bid at the long inventory limit, no ask at the short one).
2. A market order arrives on each side with probability ``arrival_rate * dt`` and
   lifts a quote at depth d with probability ``exp(-fill_decay * d)``: per step,
   ``min(arrival_rate * exp(-fill_decay * d) * dt, 1)``; unit size, at most one
   fill per side.
3. The mid moves by ``drift * dt + volatility * sqrt(dt) * Z``.

Reward components (signed; reward = weights . components): mark-to-market PnL
change, ``-q^2 dt`` (running inventory penalty, q at the start of the step),
``-q_T^2`` on the last step, and ``-|q| sigma sqrt(dt)``. Episodes end by the
clock: truncation, never termination.

Flatten action (``flatten_action``, Spooner et al. 2018): the last row of the
discrete grid, index ``params.flatten_index`` (``NO_FLATTEN_INDEX`` when absent).
Its step runs in this order, with q the inventory at the start of the step:

0. Before anything else, a market order trades
   ``traded = -sign(q) * min(|q|, flatten_size)`` at the current mid, paying
   ``market_order_cost`` per unit: inventory becomes ``q + traded``, cash changes
   by ``-traded * mid - cost * |traded|`` and the PnL component by ``-cost * |traded|``.
1. Both quotes are withdrawn (the row is (NO_QUOTE, NO_QUOTE)): no fills.
2. The mid moves; the PnL component adds ``(q + traded) dS``.

The running and volatility penalties still use q, the inventory at the start of
the step (before the market order); the terminal penalty uses the inventory after
it. ``info["market_order"]`` holds ``traded`` (zero on every other action).
"""

from __future__ import annotations


import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import spaces

from jaxmm.envs import quote_grids
from jaxmm.envs.action_grid import NO_QUOTE, depth_pairs, nearest_pair
from jaxmm.envs.base import MarketEnv, QuoteModel
from jaxmm.envs.model_config import MODEL_REWARD_COMPONENTS, ModelEnvConfig
from jaxmm.errors import ConfigError

NUM_UNIFORMS = 3  # bid fill, ask fill, mid-price shock
UNIFORM_BITS = 23  # float32 mantissa bits: (k + 0.5) * 2**-23 stays strictly below 1
OBS_BASE = 2  # time remaining, inventory
FLATTEN_ROW = (NO_QUOTE, NO_QUOTE)  # quotes withdrawn while the market order flattens
NO_FLATTEN_INDEX = -1  # params.flatten_index when the grid has no flatten action


@struct.dataclass
class ModelEnvState:
    time: jax.Array  # int32 step counter
    mid: jax.Array  # float32
    cash: jax.Array  # float32
    inventory: jax.Array  # int32
    pnl: jax.Array  # float32, mark-to-market wealth change since reset
    mid_changes: jax.Array  # float32 (obs_mid_lags,), newest first, in units of sigma sqrt(dt)


@struct.dataclass
class ModelEnvParams:
    initial_mid: jax.Array
    volatility: jax.Array
    drift: jax.Array
    arrival_rate: jax.Array
    fill_decay: jax.Array
    horizon: jax.Array
    dt: jax.Array
    max_steps_in_episode: jax.Array  # int32, num_steps
    max_inventory: jax.Array  # int32
    inventory_low: jax.Array  # int32
    inventory_high: jax.Array  # int32
    reward_weights: jax.Array  # float32 (num components,)
    action_grid: jax.Array  # float32 (num actions, 2); one placeholder row when continuous
    flatten_index: jax.Array  # int32 action index of the flatten market order, NO_FLATTEN_INDEX if none
    flatten_size: jax.Array  # int32 most units one flattening market order trades
    market_order_cost: jax.Array  # float32 price units paid per unit traded by a market order


def _f32(x) -> jax.Array:
    return jnp.asarray(x, dtype=jnp.float32)


def _i32(x) -> jax.Array:
    return jnp.asarray(x, dtype=jnp.int32)


def open_uniforms(bits: jax.Array) -> jax.Array:
    """uint32 random bits -> float32 uniforms strictly inside (0, 1)."""
    shift = 32 - UNIFORM_BITS
    return ((bits >> shift).astype(jnp.float32) + 0.5) * jnp.float32(2.0 ** -UNIFORM_BITS)


class ModelEnv(MarketEnv):
    """Static settings only: action type, number of discrete actions, observation lags."""

    def __init__(self, action_type: str = "continuous", num_actions: int = 1,
                 obs_mid_lags: int = 0, min_depth: float = 0.0, max_depth: float = 1.0,
                 flatten_action: bool = False):
        super().__init__()
        self.flatten_action = flatten_action
        self.action_type = action_type
        self._num_actions = num_actions
        self.obs_mid_lags = obs_mid_lags
        self.min_depth = min_depth
        self.max_depth = max_depth

    @property
    def name(self) -> str:
        return "model"

    @property
    def num_actions(self) -> int:
        return self._num_actions

    @property
    def reward_components(self) -> tuple[str, ...]:
        return MODEL_REWARD_COMPONENTS

    @property
    def default_params(self) -> ModelEnvParams:
        return params_from_config(ModelEnvConfig())

    # ------------------------------------------------------------------ dynamics
    def sample_noise(self, key: jax.Array, batch_shape: tuple[int, ...] = ()) -> jax.Array:
        return jax.random.bits(key, (*batch_shape, NUM_UNIFORMS), dtype=jnp.uint32)

    def quotes(self, action: jax.Array, params: ModelEnvParams) -> tuple[jax.Array, jax.Array]:
        if self.action_type == "discrete":
            row = params.action_grid[action]
            return row[0], row[1]
        action = _f32(action)
        return action[0], action[1]

    def market_order(self, action, inventory: jax.Array, params: ModelEnvParams) -> jax.Array:
        """int32 units the flatten action trades at the start of the step (0 for any other action)."""
        if not self.flatten_action:
            return jnp.zeros_like(inventory)
        size = jnp.minimum(jnp.abs(inventory), params.flatten_size)
        return jnp.where(action == params.flatten_index, -jnp.sign(inventory) * size, 0).astype(jnp.int32)

    def transition(self, noise, state: ModelEnvState, action, params: ModelEnvParams):
        uniforms = open_uniforms(noise)
        bid_depth, ask_depth = self.quotes(action, params)
        q_start = state.inventory
        traded = self.market_order(action, q_start, params)
        traded_f = traded.astype(jnp.float32)
        order_cost = params.market_order_cost * jnp.abs(traded_f)
        q = q_start + traded  # the inventory the quotes and the mid move act on
        bid_quoted = (q < params.max_inventory) & jnp.isfinite(bid_depth)
        ask_quoted = (q > -params.max_inventory) & jnp.isfinite(ask_depth)
        intensity_dt = params.arrival_rate * params.dt
        # exp of a masked depth keeps inf/nan out of unquoted sides.
        p_bid = jnp.minimum(intensity_dt * jnp.exp(-params.fill_decay * jnp.where(bid_quoted, bid_depth, 0.0)), 1.0)
        p_ask = jnp.minimum(intensity_dt * jnp.exp(-params.fill_decay * jnp.where(ask_quoted, ask_depth, 0.0)), 1.0)
        bid_fill = bid_quoted & (uniforms[0] < p_bid)
        ask_fill = ask_quoted & (uniforms[1] < p_ask)
        shock = jax.scipy.special.ndtri(uniforms[2])
        sqrt_dt = jnp.sqrt(params.dt)
        d_mid = params.drift * params.dt + params.volatility * sqrt_dt * shock

        bought = bid_fill.astype(jnp.float32)
        sold = ask_fill.astype(jnp.float32)
        edge = jnp.where(bid_fill, bid_depth, 0.0) + jnp.where(ask_fill, ask_depth, 0.0)
        q_new = q + bid_fill.astype(jnp.int32) - ask_fill.astype(jnp.int32)
        qf, qf_new = q_start.astype(jnp.float32), q_new.astype(jnp.float32)
        cash = state.cash - traded_f * state.mid - order_cost \
            - bought * (state.mid - jnp.where(bid_fill, bid_depth, 0.0)) \
            + sold * (state.mid + jnp.where(ask_fill, ask_depth, 0.0))
        pnl_step = edge - order_cost + qf_new * d_mid
        time = state.time + 1
        last = time >= params.max_steps_in_episode
        components = jnp.stack([
            pnl_step,
            -qf * qf * params.dt,
            jnp.where(last, -qf_new * qf_new, 0.0),
            -jnp.abs(qf) * params.volatility * sqrt_dt,
        ]).astype(jnp.float32)
        reward = jnp.dot(params.reward_weights, components)

        if self.obs_mid_lags:
            newest = (d_mid / (params.volatility * sqrt_dt))[None]
            mid_changes = jnp.concatenate([newest, state.mid_changes[:-1]])
        else:
            mid_changes = state.mid_changes
        new_state = ModelEnvState(time=time, mid=state.mid + d_mid, cash=cash, inventory=q_new,
                                  pnl=state.pnl + pnl_step, mid_changes=mid_changes)
        both = bid_quoted & ask_quoted
        info = {
            "reward_components": components,
            "pnl": new_state.pnl,
            "inventory": qf_new,
            "bid_fill": bought,
            "ask_fill": sold,
            "bid_quoted": bid_quoted.astype(jnp.float32),
            "ask_quoted": ask_quoted.astype(jnp.float32),
            "spread": jnp.where(both, bid_depth + ask_depth, 0.0),
            "market_order": traded_f,
            # Read by the evaluation metrics (jaxmm.evaluation.accumulate); price units. The
            # flatten order trades at the mid and pays market_order_cost: that is its slippage.
            "mid_change": d_mid,
            "maker_bought": bought,
            "maker_sold": sold,
            "fill_price_edge": edge,
            "taker_qty": traded_f,
            "slippage": order_cost,
            "bid_distance": jnp.where(bid_quoted, bid_depth, 0.0),
            "ask_distance": jnp.where(ask_quoted, ask_depth, 0.0),
        }
        obs = self.get_obs(new_state, params)
        return obs, new_state, reward, jnp.array(False), info

    def reset_env(self, key: jax.Array, params: ModelEnvParams):
        inventory = jax.random.randint(key, (), params.inventory_low, params.inventory_high + 1, dtype=jnp.int32)
        state = ModelEnvState(
            time=_i32(0), mid=_f32(params.initial_mid), cash=_f32(0.0), inventory=inventory,
            pnl=_f32(0.0), mid_changes=jnp.zeros((self.obs_mid_lags,), jnp.float32))
        return self.get_obs(state, params), state

    def get_obs(self, state: ModelEnvState, params: ModelEnvParams, key=None) -> jax.Array:
        remaining = 1.0 - state.time.astype(jnp.float32) / params.max_steps_in_episode.astype(jnp.float32)
        inventory = state.inventory.astype(jnp.float32) / params.max_inventory.astype(jnp.float32)
        return jnp.concatenate([jnp.stack([remaining, inventory]), state.mid_changes]).astype(jnp.float32)

    # ------------------------------------------------------------ for baselines
    def policy_inputs(self, state: ModelEnvState, params: ModelEnvParams):
        time_remaining = params.horizon - state.time.astype(jnp.float32) * params.dt
        return time_remaining, state.inventory

    def quote_model(self, params: ModelEnvParams) -> QuoteModel:
        return QuoteModel(volatility=params.volatility, arrival_rate=params.arrival_rate,
                          fill_decay=params.fill_decay, horizon=params.horizon, dt=params.dt,
                          drift=params.drift, max_inventory=params.max_inventory)

    def depths_to_action(self, bid_depth, ask_depth, params: ModelEnvParams, inventory=None):
        if self.action_type == "discrete":
            # Never the flatten row (the last): its (NO_QUOTE, NO_QUOTE) depths do not describe it.
            quote_rows = self._num_actions - int(self.flatten_action)
            return nearest_pair(params.action_grid[:quote_rows], bid_depth, ask_depth)
        return jnp.stack([bid_depth, ask_depth]).astype(jnp.float32)

    # ------------------------------------------------------------------ spaces
    def action_space(self, params: ModelEnvParams | None = None):
        if self.action_type == "discrete":
            return spaces.Discrete(self._num_actions)
        return spaces.Box(self.min_depth, self.max_depth, (2,), jnp.float32)

    def observation_space(self, params: ModelEnvParams | None = None):
        size = OBS_BASE + self.obs_mid_lags
        low = np.full(size, -np.inf, np.float32)
        high = np.full(size, np.inf, np.float32)
        low[:OBS_BASE], high[:OBS_BASE] = (0.0, -1.0), (1.0, 1.0)
        return spaces.Box(jnp.asarray(low), jnp.asarray(high), (size,), jnp.float32)


def action_grid_from_config(cfg: ModelEnvConfig) -> np.ndarray:
    """The (num actions, 2) table of (bid depth, ask depth) rows of a discrete action type."""
    if cfg.action_type != "discrete":
        return np.zeros((1, 2), np.float32)
    tables = []
    if cfg.depth_grid:
        tables.append(depth_pairs(cfg.depth_grid))
    try:
        if cfg.quote_pairs:
            tables.append(quote_grids.explicit_pairs(cfg.quote_pairs))
        if cfg.grid_spreads:
            tables.append(quote_grids.spread_skew_pairs(cfg.grid_spreads, cfg.grid_skews))
    except ValueError as err:
        raise ConfigError(f"env quote grid: {err}") from None
    if cfg.one_sided_quotes:
        tables.append(quote_grids.one_sided_rows(cfg.depth_grid))
    grid = quote_grids.combine(*tables)
    if cfg.flatten_action:  # appended after de-duplication: a distinct action even if a row quotes nothing
        grid = np.concatenate([grid, np.asarray([FLATTEN_ROW], grid.dtype)])
    return grid


def flatten_index_from_config(cfg: ModelEnvConfig) -> int:
    """Action index of the flatten market order (the grid's last row), or NO_FLATTEN_INDEX."""
    return len(action_grid_from_config(cfg)) - 1 if cfg.flatten_action else NO_FLATTEN_INDEX


def params_from_config(cfg: ModelEnvConfig, reward_weights=None) -> ModelEnvParams:
    low, high = cfg.inventory_range
    weights = reward_weights if reward_weights is not None else [
        cfg.reward_defaults.get(name, 0.0) for name in MODEL_REWARD_COMPONENTS]
    return ModelEnvParams(
        initial_mid=_f32(cfg.initial_mid), volatility=_f32(cfg.volatility), drift=_f32(cfg.drift),
        arrival_rate=_f32(cfg.arrival_rate), fill_decay=_f32(cfg.fill_decay),
        horizon=_f32(cfg.horizon), dt=_f32(cfg.dt), max_steps_in_episode=_i32(cfg.num_steps),
        max_inventory=_i32(cfg.max_inventory), inventory_low=_i32(low), inventory_high=_i32(high),
        reward_weights=_f32(weights), action_grid=_f32(action_grid_from_config(cfg)),
        flatten_index=_i32(flatten_index_from_config(cfg)), flatten_size=_i32(cfg.resolved_flatten_size),
        market_order_cost=_f32(cfg.market_order_cost))


def make_model_env(cfg: ModelEnvConfig, reward_weights=None) -> tuple[ModelEnv, ModelEnvParams]:
    grid = action_grid_from_config(cfg)
    env = ModelEnv(action_type=cfg.action_type, num_actions=len(grid), obs_mid_lags=cfg.obs_mid_lags,
                   min_depth=cfg.min_depth, max_depth=cfg.resolved_max_depth, flatten_action=cfg.flatten_action)
    return env, params_from_config(cfg, reward_weights)
