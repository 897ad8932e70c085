"""Configuration sections shared by every experiment: policy, evaluation, training run."""

from __future__ import annotations

import dataclasses
from typing import Literal

from jaxmm.config.section import Section

DEFAULT_EVAL_BATCH = 8192


@dataclasses.dataclass(frozen=True)
class PolicyConfig(Section):
    """Settings of the closed-form and heuristic baseline policies."""

    name: str = "avellaneda_stoikov"
    risk_aversion: float = 0.1  # gamma of Avellaneda-Stoikov / GLFT
    fixed_depth: float = 1.0  # half-spread of the fixed_spread policy, in price units
    inventory_cap: int = 1  # inventory_capped: withdraw the side that would take |q| past this

    def check(self) -> None:
        self.require(self.risk_aversion > 0, "risk_aversion", f"must be > 0, got {self.risk_aversion}")
        self.require(self.fixed_depth >= 0, "fixed_depth", f"must be >= 0, got {self.fixed_depth}")
        self.require(self.inventory_cap >= 1, "inventory_cap", f"must be >= 1, got {self.inventory_cap}")


@dataclasses.dataclass(frozen=True)
class EvalConfig(Section):
    """How many episodes to roll out and how, for evaluation."""

    episodes: int = 1000
    seed: int = 0
    batch_size: int = DEFAULT_EVAL_BATCH  # episodes simulated in parallel
    plot_paths: int = 20  # inventory paths drawn in the plot
    # Episodes apart from ``seed``'s that pick a sweep member (``checkpoint:RUN#best=sharpe``).
    validation_seed: int = 1000
    # Metrics (jaxmm.evaluation.accumulate): horizons in steps of the markout curve of passive
    # fills, the horizon of the adverse-selection part of the PnL decomposition, bins of the fill
    # rate by quote distance, and the bootstrap interval of the Sharpe ratio (0 samples: none).
    markout_horizons: tuple[int, ...] = (1, 2, 5, 10, 20, 50)
    adverse_selection_horizon: int = 10
    fill_rate_bins: int = 24
    bootstrap_samples: int = 1000
    confidence: float = 0.95
    # The inventory distribution (quantiles, skewness, time at the limit) and the fill rate by
    # quote distance are histograms of one (episode, step) pair in this many, every episode at a
    # rotating phase (jaxmm.evaluation.accumulate.histogram_sample); 1: every step, exactly.
    histogram_sample_every: int = 4

    def check(self) -> None:
        self.require(self.episodes > 0, "episodes", f"must be > 0, got {self.episodes}")
        self.require(self.batch_size > 0, "batch_size", f"must be > 0, got {self.batch_size}")
        self.require(self.plot_paths >= 0, "plot_paths", f"must be >= 0, got {self.plot_paths}")
        self.require(len(self.markout_horizons) > 0, "markout_horizons", "needs at least one horizon")
        for i, horizon in enumerate(self.markout_horizons):
            self.require(horizon > 0, f"markout_horizons[{i}]", f"must be > 0 steps, got {horizon}")
        self.require(self.adverse_selection_horizon > 0, "adverse_selection_horizon",
                     f"must be > 0 steps, got {self.adverse_selection_horizon}")
        self.require(self.fill_rate_bins > 0, "fill_rate_bins", f"must be > 0, got {self.fill_rate_bins}")
        self.require(self.bootstrap_samples >= 0, "bootstrap_samples",
                     f"must be >= 0, got {self.bootstrap_samples}")
        self.require(0 < self.confidence < 1, "confidence", f"must be in (0, 1), got {self.confidence}")
        self.require(self.histogram_sample_every > 0, "histogram_sample_every",
                     f"must be >= 1 (1: every step), got {self.histogram_sample_every}")


@dataclasses.dataclass(frozen=True)
class TrainConfig(Section):
    """The training run: which learner, how long, how often to log and checkpoint."""

    algo: Literal["ppo", "dqn"] = "ppo"
    name: str = "run"
    seed: int = 0
    total_env_steps: int = 1_000_000
    chunk_env_steps: int = 100_000  # environment steps per compiled chunk
    checkpoint_every_chunks: int = 1
    keep_checkpoints: int = 3
    eval_episodes: int = 10_000  # final evaluation of the trained policy
    baselines: tuple[str, ...] = ()  # closed-form policies evaluated next to it
    # Several devices: split the sweep members, or the environments of one policy, across them
    # (auto: members when the devices divide their count, else environments; see jaxmm.sweeps.placement).
    sharding: Literal["auto", "members", "envs", "none"] = "auto"

    def check(self) -> None:
        for key in ("total_env_steps", "chunk_env_steps", "checkpoint_every_chunks",
                    "keep_checkpoints"):
            self.require(getattr(self, key) > 0, key, f"must be > 0, got {getattr(self, key)}")
        self.require(self.eval_episodes >= 0, "eval_episodes", f"must be >= 0, got {self.eval_episodes}")
        self.require(self.name.replace("-", "").replace("_", "").isalnum(), "name",
                     f"use letters, digits, '-' and '_' only, got {self.name!r}")
