"""Configuration section of the replay environment (``env.name: replay``).

The market is a recorded data file; the agent's settings (quotes, sizes, latency, fees,
observation) have the names and defaults of the order-book environment's section
(:class:`~jaxmm.envs.lob.config.LobEnvConfig`), so the replay presents a policy trained on
the simulated book with the same observation layout and action space.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar, Literal, Optional

from jaxmm.config.section import Section
from jaxmm.envs.lob.config import LOB_REWARD_COMPONENTS, LobEnvConfig

# The agent's settings shared with the simulated book (same names, defaults and meaning).
AGENT_FIELDS = ("visible_levels", "num_steps", "level_capacity", "action_type", "quote_reference", "quote_size",
                "max_quote_size", "max_quote_offset", "offset_grid", "quote_sides", "flatten_action",
                "max_inventory", "latency", "latency_jitter", "maker_rebate", "taker_fee", "obs_mid_lags",
                "markout_horizon", "volume_scale")
_LOB = LobEnvConfig()


@dataclasses.dataclass(frozen=True)
class ReplayEnvConfig(Section):
    """Recorded book and trades drive the market; the agent's orders fill from their queue position."""

    reward_components: ClassVar[tuple[str, ...]] = LOB_REWARD_COMPONENTS
    reward_defaults: ClassVar[dict[str, float]] = LobEnvConfig.reward_defaults

    name: Literal["replay"] = "replay"
    # The recorded market.
    data: str = "data/samples/lob_message_10.csv.gz"  # LOBSTER messages, or L2 updates (with trades)
    trades: Optional[str] = None  # the trades of an L2 market
    window: Optional[str] = None  # START:END, seconds after the first row or clock times (default: all)
    step_seconds: float = 1.0  # seconds of data per step
    # The book window spans 2 * half_width ticks around the recorded mid; levels that leave it come
    # back when the mid returns (the data side keeps them), so a narrow window loses nothing in view
    # and costs less per event.
    half_width: int = 16
    start_stride: int = 1  # episodes may start every this many steps
    # L2 data only: how cancellations at the agent's level move it (hftbacktest's queue models).
    queue_model: Literal["conservative", "probabilistic"] = "conservative"
    queue_power: float = 2.0  # probabilistic: P(a cancelled unit was behind) = back^n / (back^n + front^n)
    # False: the agent's market orders leave the recorded volume in place (the recorded market
    # never saw them); true: they consume it, as in the simulator.
    market_impact: bool = False
    # Quote model of the closed-form baselines: (sigma, A, k) fitted to the replayed data.
    calibrate_quote_model: bool = True
    # The agent (as in LobEnvConfig).
    visible_levels: int = _LOB.visible_levels
    num_steps: int = _LOB.num_steps
    level_capacity: int = 100_000  # units one level may hold with the agent's order (recorded levels are deep)
    action_type: Literal["continuous", "discrete"] = _LOB.action_type
    quote_reference: Literal["mid", "touch"] = _LOB.quote_reference
    quote_size: int = _LOB.quote_size
    max_quote_size: int = _LOB.max_quote_size
    max_quote_offset: float = _LOB.max_quote_offset
    offset_grid: tuple[float, ...] = _LOB.offset_grid
    quote_sides: Literal["bid_ask", "inventory"] = _LOB.quote_sides
    flatten_action: bool = _LOB.flatten_action
    max_inventory: int = _LOB.max_inventory
    latency: int = _LOB.latency
    latency_jitter: int = _LOB.latency_jitter
    maker_rebate: float = _LOB.maker_rebate
    taker_fee: float = _LOB.taker_fee
    obs_mid_lags: int = _LOB.obs_mid_lags
    markout_horizon: int = _LOB.markout_horizon
    volume_scale: float = _LOB.volume_scale

    def check(self) -> None:
        require = self.require
        require(bool(self.data), "data", "name a market-data file")
        require(math.isfinite(self.step_seconds) and self.step_seconds > 0, "step_seconds",
                f"must be > 0, got {self.step_seconds}")
        require(self.start_stride >= 1, "start_stride", f"must be >= 1, got {self.start_stride}")
        require(self.queue_power > 0, "queue_power", f"must be > 0, got {self.queue_power}")
        self.lob_view(tick_size=1.0).check()  # the simulated book's agent constraints, under the same keys

    def lob_view(self, tick_size: float) -> LobEnvConfig:
        """The order-book section with this section's agent settings and book window (for the static
        settings, the action table and the observation layout of the simulated book)."""
        return LobEnvConfig(tick_size=tick_size, half_width=self.half_width,
                            **{name: getattr(self, name) for name in AGENT_FIELDS})
