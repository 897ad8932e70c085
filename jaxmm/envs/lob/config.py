"""Configuration section of the limit-order-book market-making environment (``env.name: lob``).

Rates are per step. Each step has a fixed number of event slots per kind and side
(static shapes); a slot is active with probability rate / slots, so a rate must
not exceed its number of slots.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar, Literal

from jaxmm.config.section import Section

EXACT_FLOAT_INT = 2 ** 24  # as in jaxmm.envs.lob.book: integers below this are exact in float32

LOB_REWARD_COMPONENTS = (
    "pnl",  # mark-to-market wealth change before fees (price units)
    "inventory_penalty",  # -q^2 / num_steps
    "adverse_selection",  # mid move since fill, signed by fill side, for fills markout_horizon steps ago
    "order_management",  # -(orders sent + orders cancelled) this step
    "fees",  # maker rebates minus taker fees (price units)
    # Fills against the mid at the step's start: passive edge minus market-order slippage. pnl is
    # spread_capture plus the revaluation of the inventory, q * mid change: the same expectation
    # less the fill-free noise, so spread_capture + adverse_selection is a low-variance PnL signal.
    "spread_capture",
)


@dataclasses.dataclass(frozen=True)
class LobEnvConfig(Section):
    """A tick-grid order book with background flow, informed traders and a latent fair value."""

    reward_components: ClassVar[tuple[str, ...]] = LOB_REWARD_COMPONENTS
    reward_defaults: ClassVar[dict[str, float]] = {"pnl": 1.0, "fees": 1.0}

    name: Literal["lob"] = "lob"
    # Book geometry (static).
    tick_size: float = 0.01
    reference_price: float = 100.0  # price of tick 0
    half_width: int = 20  # the window spans 2 * half_width ticks around the mid
    visible_levels: int = 10  # levels per side in the observation
    level_capacity: int = 1000  # units per price level; more is rejected and counted
    num_steps: int = 500
    warmup_steps: int = 300  # flow-only steps that build the initial book (stored in params)
    # Background flow.
    limit_slots: int = 3  # per side and step
    limit_rate: float = 1.5  # expected limit orders per side and step
    max_distance: int = 12  # ticks from the opposite best price
    distance_exponent: float = 0.6  # P(distance = i) ~ i^-exponent (Cont-Stoikov-Talreja)
    cancel_slots: int = 3
    cancel_rate: float = 0.004  # per resting unit and step (cancellations proportional to volume)
    market_rate: float = 0.4  # expected market orders per step, both sides together
    informed_share: float = 0.05  # fraction of market orders that are informed
    size_mean: float = 3.0  # geometric order sizes (units), truncated at max_order_size
    max_order_size: int = 12
    hawkes_jump: float = 0.0  # excitation added per market order on its side (0: Poisson)
    hawkes_decay: float = 0.8  # per-step decay factor of the excitation
    # Latent fair value (ticks).
    fair_value_volatility: float = 0.3  # per-step standard deviation
    jump_probability: float = 0.0
    jump_size: float = 5.0
    # The agent.
    action_type: Literal["continuous", "discrete"] = "continuous"
    quote_reference: Literal["mid", "touch"] = "mid"
    quote_size: int = 1  # default size; discrete actions use it
    max_quote_size: int = 10
    max_quote_offset: float = 10.0  # ticks; larger (or non-finite) offsets mean no quote
    offset_grid: tuple[float, ...] = (0.5, 1.5, 2.5, 4.5)  # discrete: every (bid, ask) pair
    # Discrete rows as (bid, ask) offsets, or "inventory": (offset of the side that reduces |q|,
    # offset of the side that adds to it) for the inventory the agent knows of; flat, both
    # sides take the second. One row then serves long and short positions alike.
    quote_sides: Literal["bid_ask", "inventory"] = "bid_ask"
    flatten_action: bool = True  # discrete: a last row that cancels both quotes and flattens with a market order
    max_inventory: int = 20
    latency: int = 0  # steps between sending an action and its effect (and fill reports)
    latency_jitter: int = 0  # extra uniform random delay in [0, latency_jitter] steps
    maker_rebate: float = 0.002  # price units per unit filled passively
    taker_fee: float = 0.003  # price units per unit taken
    # Observation and metrics.
    obs_mid_lags: int = 5
    markout_horizon: int = 10
    volume_scale: float = 20.0  # level volumes are divided by this in the observation
    calibrate_quote_model: bool = False  # fit (sigma, A, k) by simulation when building params
    # How a vmap over books runs the book steps (jaxmm.envs.lob.layout); the results are the same,
    # bit for bit. batch (levels x batch, the batch minor) is the faster at 128 to 8,192 books on
    # the 2-core Intel Xeon, and the coalesced layout on a GPU (BENCHMARKS, order-book throughput).
    layout: Literal["per_book", "batch"] = "batch"

    def check(self) -> None:
        require = self.require
        for key in ("tick_size", "size_mean", "volume_scale", "max_quote_offset"):
            value = getattr(self, key)
            require(math.isfinite(value) and value > 0, key, f"must be > 0, got {value}")
        for key in ("half_width", "visible_levels", "level_capacity", "num_steps", "limit_slots",
                    "cancel_slots", "max_distance", "max_order_size", "quote_size",
                    "max_quote_size", "max_inventory", "markout_horizon"):
            require(getattr(self, key) > 0, key, f"must be > 0, got {getattr(self, key)}")
        for key in ("warmup_steps", "latency", "latency_jitter", "obs_mid_lags"):
            require(getattr(self, key) >= 0, key, f"must be >= 0, got {getattr(self, key)}")
        require(self.level_capacity * 2 * self.half_width < EXACT_FLOAT_INT, "level_capacity",
                f"level_capacity * window width must stay below {EXACT_FLOAT_INT} (exact prefix sums)")
        require(self.visible_levels <= self.half_width, "visible_levels",
                f"must be <= half_width {self.half_width}, got {self.visible_levels}")
        require(self.max_distance < 2 * self.half_width, "max_distance",
                f"must be < the window width {2 * self.half_width}, got {self.max_distance}")
        require(self.max_quote_offset < self.half_width, "max_quote_offset",
                f"must be < half_width {self.half_width}, got {self.max_quote_offset}")
        require(0 <= self.limit_rate <= self.limit_slots, "limit_rate",
                f"must be in [0, limit_slots={self.limit_slots}], got {self.limit_rate}")
        require(0 <= self.cancel_rate <= 1, "cancel_rate", f"must be in [0, 1], got {self.cancel_rate}")
        require(0 <= self.market_rate <= 1, "market_rate", f"must be in [0, 1], got {self.market_rate}")
        require(0 <= self.informed_share <= 1, "informed_share",
                f"must be in [0, 1], got {self.informed_share}")
        require(self.size_mean >= 1, "size_mean", f"must be >= 1, got {self.size_mean}")
        require(self.hawkes_jump >= 0, "hawkes_jump", f"must be >= 0, got {self.hawkes_jump}")
        require(0 <= self.hawkes_decay < 1, "hawkes_decay", f"must be in [0, 1), got {self.hawkes_decay}")
        require(self.fair_value_volatility >= 0, "fair_value_volatility",
                f"must be >= 0, got {self.fair_value_volatility}")
        require(0 <= self.jump_probability <= 1, "jump_probability",
                f"must be in [0, 1], got {self.jump_probability}")
        require(self.quote_size <= self.max_quote_size, "quote_size",
                f"must be <= max_quote_size {self.max_quote_size}, got {self.quote_size}")
        require(self.max_quote_size <= self.level_capacity, "max_quote_size",
                f"must be <= level_capacity {self.level_capacity}")
        require(self.maker_rebate >= 0 and self.taker_fee >= 0, "taker_fee",
                "fees and rebates must be >= 0")
        require(self.quote_sides == "bid_ask" or self.action_type == "discrete", "quote_sides",
                "'inventory' orients the rows of a discrete grid; set env.action_type: discrete")
        if self.action_type == "discrete":
            require(len(self.offset_grid) > 0, "offset_grid", "is empty; a discrete action needs offsets")
        for i, offset in enumerate(self.offset_grid):
            require(offset == math.inf or (math.isfinite(offset) and offset >= 0), f"offset_grid[{i}]",
                    f"must be >= 0 or inf (no quote), got {offset}")

    @property
    def num_levels(self) -> int:
        return 2 * self.half_width

    @property
    def dt(self) -> float:
        return 1.0 / self.num_steps
