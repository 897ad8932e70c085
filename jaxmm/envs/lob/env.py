"""The limit-order-book market-making environment (``env.name: lob``).

One step: (1) the action becomes an order message priced at the current mid
and enters the latency pipeline; (2) the message due now (if any) reaches the
book: quotes kept, moved or withdrawn, then the optional market order; (3) one
step of background and informed flow (``flow.py``), which may fill the agent's
resting orders in their queue turn; (4) the window re-centres on the new mid;
(5) accounting, reward components, observation.

Reward components (signed; reward = weights . components), price units:
``pnl`` mark-to-market wealth change before fees; ``inventory_penalty``
-q^2 / num_steps; ``adverse_selection`` the mid move since the fill times the
signed passive fill, for fills ``markout_horizon`` steps ago; ``order_management``
-(orders sent + cancelled); ``fees`` maker rebates - taker fees;
``spread_capture`` fills against the mid at the step's start (``pnl`` minus the
revaluation of the inventory, q * mid change). Episodes end by the clock
(truncation), never by termination.

``layout`` (static, ``jaxmm.envs.lob.layout``): under a caller's ``vmap`` the book
steps run per book (``per_book``) or once for the whole batch with the batch as the
minor axis (``batch``); the results are the same.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from gymnax.environments import spaces

from jaxmm.envs.action_grid import nearest_pair
from jaxmm.envs.base import MarketEnv, QuoteModel
from jaxmm.envs.lob import agent, book as lob, observation as ob
from jaxmm.envs.lob.accounting import step_accounting
from jaxmm.envs.lob.config import LOB_REWARD_COMPONENTS
from jaxmm.envs.lob.flow import flow_uniforms, uniforms_from_bits
from jaxmm.envs.lob.layout import BATCH, BOOK_OPS
from jaxmm.envs.lob.state import LobEnvParams, LobEnvState

UNIFORMS_AGENT = 1  # latency jitter


class LobEnv(MarketEnv):
    """Static settings only: shapes, slot counts, action type."""

    def __init__(self, num_levels: int = 40, visible_levels: int = 10, limit_slots: int = 3,
                 cancel_slots: int = 3, pipeline_length: int = 1, obs_mid_lags: int = 5,
                 markout_horizon: int = 10, action_type: str = "continuous", num_actions: int = 1,
                 quote_from_touch: bool = False, inventory_relative: bool = False,
                 max_quote_offset: float = 10.0,
                 max_quote_size: int = 10, layout: str = BATCH):
        super().__init__()
        self.num_levels = num_levels
        self.visible_levels = visible_levels
        self.limit_slots = limit_slots
        self.cancel_slots = cancel_slots
        self.pipeline_length = pipeline_length
        self.obs_mid_lags = obs_mid_lags
        self.markout_horizon = markout_horizon
        self.action_type = action_type
        self._num_actions = num_actions
        self.quote_from_touch = quote_from_touch
        self.inventory_relative = inventory_relative
        self.max_quote_offset = max_quote_offset
        self.max_quote_size = max_quote_size
        self.layout = layout

    @property
    def name(self) -> str:
        return "lob"

    @property
    def num_actions(self) -> int:
        return self._num_actions

    @property
    def reward_components(self) -> tuple[str, ...]:
        return LOB_REWARD_COMPONENTS

    # No ``default_params``: the parameters hold a warmed-up initial book, built from a config by
    # ``jaxmm.envs.lob.build.make_lob_env`` (which imports this module, not the other way round).

    @property
    def book_ops(self):
        """The book, flow and agent steps in this environment's layout."""
        return BOOK_OPS[self.layout]

    @property
    def half_width(self) -> int:
        return self.num_levels // 2

    @property
    def num_words(self) -> int:
        uniforms = flow_uniforms(self.limit_slots, self.cancel_slots) + UNIFORMS_AGENT
        return (uniforms + 1) // 2

    # ------------------------------------------------------------------ dynamics
    def sample_noise(self, key: jax.Array, batch_shape: tuple[int, ...] = ()) -> jax.Array:
        return jax.random.bits(key, (*batch_shape, self.num_words), dtype=jnp.uint32)

    def action_vector(self, action, state: LobEnvState, params: LobEnvParams) -> jax.Array:
        """The (bid, ask) action vector of ``action`` (a discrete index or a continuous vector)."""
        if self.action_type != "discrete":
            return jnp.asarray(action, jnp.float32)
        row = params.action_table[action]
        if self.inventory_relative:
            return agent.orient(row, self.known_inventory(state, params))
        return row

    def origin_for(self, mid: jax.Array) -> jax.Array:
        return jnp.round(mid).astype(jnp.int32) - self.half_width

    def transition(self, noise, state: LobEnvState, action, params: LobEnvParams):
        uniforms = uniforms_from_bits(noise)
        num_flow = flow_uniforms(self.limit_slots, self.cancel_slots)
        ops = self.book_ops
        book = state.book
        mid0 = state.mid
        _, best_bid = ops.best_price(book, lob.BID)
        _, best_ask = ops.best_price(book, lob.ASK)
        message = agent.decode(self.action_vector(action, state, params), mid0, best_bid, best_ask,
                               state.inventory, params.max_quote_offset, params.max_quote_size,
                               self.quote_from_touch)
        jitter = jnp.floor(uniforms[num_flow] * (params.latency_jitter + 1).astype(jnp.float32))
        delay = jnp.minimum(params.latency + jitter.astype(jnp.int32), self.pipeline_length - 1)
        pending, valid = agent.send(state.pending, state.pending_valid, message, state.time, delay)
        due, arrived, valid = agent.receive(pending, valid, state.time)
        rejected0 = book.rejected
        book, mine = ops.apply_message(book, due, arrived, params.flow.level_capacity,
                                       state.inventory, params.max_inventory)
        quoted_book = book  # the quotes the flow meets this step

        book, fair_value, excitation, flow = ops.flow_step(
            book, uniforms[:num_flow], params.flow, mid0, state.fair_value, state.excitation,
            self.limit_slots, self.cancel_slots)
        mid = ops.mid_price(book, mid0)
        book, dropped = ops.shift_window(book, self.origin_for(mid))

        reward, fields, info = step_accounting(
            state, params, quoted_book=quoted_book, book=book, mine=mine, flow=flow, mid0=mid0, mid=mid,
            delay=delay, rejected0=rejected0, window_cancels=dropped,
            market_spread=params.tick_size * ops.book_features(book, mid, 1, params.volume_scale)[2],
            markout_horizon=self.markout_horizon, pipeline_length=self.pipeline_length)
        new_state = LobEnvState(book=book, fair_value=fair_value, excitation=excitation, pending=pending,
                                pending_valid=valid, **fields)
        obs = self.get_obs(new_state, params)
        return obs, new_state, reward, jnp.array(False), info

    def reset_env(self, key: jax.Array, params: LobEnvParams):
        n, h = self.pipeline_length, self.markout_horizon
        zeros_h = jnp.zeros((h,), jnp.float32)
        state = LobEnvState(
            book=params.initial_book, time=jnp.int32(0), mid=params.initial_mid,
            fair_value=params.initial_fair_value, excitation=jnp.zeros((lob.NUM_SIDES,), jnp.float32),
            cash=jnp.float32(0.0), inventory=jnp.int32(0), pnl=jnp.float32(0.0),
            pending=jnp.zeros((n, agent.MESSAGE_DIM), jnp.int32), pending_valid=jnp.zeros((n,), bool),
            inventory_history=jnp.zeros((n,), jnp.int32),
            mid_returns=jnp.zeros((self.obs_mid_lags,), jnp.float32), realised_var=jnp.float32(0.0),
            flow_imbalance=jnp.float32(0.0), markout_qty=zeros_h, markout_cost=zeros_h,
            markout_mid=zeros_h)
        return self.get_obs(state, params), state

    def known_inventory(self, state: LobEnvState, params: LobEnvParams) -> jax.Array:
        """The inventory the agent knows of: fills reach it after the latency."""
        lagged = state.time - params.latency
        known = state.inventory_history[lagged % self.pipeline_length]
        return jnp.where(lagged >= 0, known, 0)

    def get_obs(self, state: LobEnvState, params: LobEnvParams, key=None) -> jax.Array:
        book_part = self.book_ops.book_features(state.book, state.mid, self.visible_levels,
                                                params.volume_scale)
        remaining = 1.0 - state.time.astype(jnp.float32) / params.max_steps_in_episode.astype(jnp.float32)
        known = self.known_inventory(state, params).astype(jnp.float32)
        stats = jnp.stack([jnp.sqrt(state.realised_var), state.flow_imbalance])
        orders = ob.order_features(state.book, state.mid, params.max_quote_size.astype(jnp.float32),
                                   params.volume_scale)
        tail = jnp.stack([known / params.max_inventory.astype(jnp.float32), remaining])
        return jnp.concatenate([book_part, state.mid_returns, stats, orders, tail]).astype(jnp.float32)

    # ------------------------------------------------------------ for baselines
    def policy_inputs(self, state: LobEnvState, params: LobEnvParams):
        remaining_steps = (params.max_steps_in_episode - state.time).astype(jnp.float32)
        return remaining_steps * params.dt, self.known_inventory(state, params)

    def quote_model(self, params: LobEnvParams) -> QuoteModel:
        return QuoteModel(volatility=params.qm_volatility, arrival_rate=params.qm_arrival_rate,
                          fill_decay=params.qm_fill_decay, horizon=jnp.float32(1.0), dt=params.dt,
                          drift=jnp.float32(0.0), max_inventory=params.max_inventory)

    def depths_to_action(self, bid_depth, ask_depth, params: LobEnvParams, inventory=None):
        """Price depths from the mid -> tick offsets (continuous) or the nearest grid row
        (for inventory-relative rows: of (reducing side, adding side), by ``inventory``)."""
        bid_ticks = bid_depth / params.tick_size
        ask_ticks = ask_depth / params.tick_size
        if self.action_type == "discrete":
            if self.inventory_relative:
                q = jnp.zeros((), jnp.int32) if inventory is None else inventory
                reduce = jnp.where(q > 0, ask_ticks, bid_ticks)
                add = jnp.where(q > 0, bid_ticks, jnp.where(q < 0, ask_ticks, bid_ticks))
                bid_ticks, ask_ticks = reduce, add
            return nearest_pair(params.action_table[:, :2], bid_ticks, ask_ticks)
        size = params.quote_size.astype(jnp.float32)
        return jnp.stack([bid_ticks, ask_ticks, size, size, jnp.float32(0.0)]).astype(jnp.float32)

    # ------------------------------------------------------------------ spaces
    def action_space(self, params: LobEnvParams | None = None):
        if self.action_type == "discrete":
            return spaces.Discrete(self._num_actions)
        low = jnp.zeros((agent.ACTION_DIM,), jnp.float32)
        high = jnp.asarray([self.max_quote_offset, self.max_quote_offset, self.max_quote_size,
                            self.max_quote_size, 1.0], jnp.float32)
        return spaces.Box(low, high, (agent.ACTION_DIM,), jnp.float32)

    def observation_space(self, params: LobEnvParams | None = None):
        size = ob.observation_size(self.visible_levels, self.obs_mid_lags)
        return spaces.Box(-jnp.inf, jnp.inf, (size,), jnp.float32)
