"""The ``finetune`` config section: budget, learning-rate schedule and anchor of a fine-tune.

Only the float fields reach the compiled program, as leaves of the training state
(the learning rate through the learner's hyperparameters, the anchor weight beside the
learner state), so fine-tuning with another rate or anchor recompiles nothing.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal, Optional

from jaxmm.config.section import Section

DEFAULT_ENV_STEPS = 500_000


@dataclasses.dataclass(frozen=True)
class FinetuneConfig(Section):
    """Continue training a restored policy on the environment of a recent data window."""

    env_steps: int = DEFAULT_ENV_STEPS  # budget of one fine-tune (and of the from-scratch comparison)
    # The learning rate decays linearly from learning_rate to learning_rate * lr_final_fraction
    # over env_steps (the fine-tune's own schedule; the parent's decayed schedule is not continued).
    learning_rate: float = 1e-4
    lr_final_fraction: float = 0.1
    # Pull toward the restored parameters theta0: after each chunk the parameters theta become the
    # minimiser of |theta' - theta|^2 / 2 + anchor_weight * |theta' - theta0|^2 / 2, i.e.
    # (theta + anchor_weight * theta0) / (1 + anchor_weight) (the proximal step of an L2 penalty,
    # decoupled from the gradients like AdamW's weight decay). 0: no anchor.
    anchor_weight: float = 0.0
    # Which environment the fine-tune trains on: the simulator calibrated on the window, the
    # recorded window replayed, or both (alternating chunks). The replay needs a policy of the
    # order book's observation layout.
    env: Literal["calibrated", "replay", "both"] = "calibrated"
    # Where policies are evaluated on the held-out window: the replayed data when the policy has the
    # order book's layout (auto), else the simulator calibrated on the held-out window.
    eval_env: Literal["auto", "calibrated", "replay"] = "auto"
    eval_episodes: int = 500
    eval_seconds: Optional[float] = None  # length of the held-out window (default: the window's)
    step_seconds: float = 1.0  # seconds of data per environment step (calibration and replay)
    seed: int = 0  # fresh environment states and PRNG keys of the fine-tune
    # Rolling mode: each window continues from the previous window's fine-tuned policy (false: from
    # the parent every time).
    chain: bool = True
    # Baselines of the rolling table: closed-form policies read the quote model calibrated on the
    # training window (never the held-out one); heuristics need no calibration.
    baselines: tuple[str, ...] = ("avellaneda_stoikov", "glft", "fixed_spread")

    def check(self) -> None:
        require = self.require
        require(self.env_steps > 0, "env_steps", f"must be > 0, got {self.env_steps}")
        require(self.learning_rate > 0, "learning_rate", f"must be > 0, got {self.learning_rate}")
        require(0 <= self.lr_final_fraction <= 1, "lr_final_fraction",
                f"must be in [0, 1], got {self.lr_final_fraction}")
        require(math.isfinite(self.anchor_weight) and self.anchor_weight >= 0, "anchor_weight",
                f"must be >= 0, got {self.anchor_weight}")
        require(self.eval_episodes > 0, "eval_episodes", f"must be > 0, got {self.eval_episodes}")
        require(self.eval_seconds is None or self.eval_seconds > 0, "eval_seconds",
                f"must be > 0, got {self.eval_seconds}")
        require(math.isfinite(self.step_seconds) and self.step_seconds > 0, "step_seconds",
                f"must be > 0, got {self.step_seconds}")
