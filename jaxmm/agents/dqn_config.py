"""Hyperparameters of the DQN learner (the ``dqn`` section of an experiment file).

Shapes and loop counts (``num_envs``, ``buffer_size``, ``batch_size``,
``gradient_steps``, ``n_step``, ``hidden_sizes``, ``dueling``) are static:
changing them recompiles. The float hyperparameters (learning-rate schedule, discount,
epsilon schedule, target update, reward scale) become leaves of the training
state, so a sweep can vary them without recompiling.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from jaxmm.config.section import Section


@dataclasses.dataclass(frozen=True)
class DQNConfig(Section):
    """Double DQN with a target network, an on-device replay buffer and n-step returns."""

    num_envs: int = 64  # environments stepped in parallel; one step of each per iteration
    buffer_size: int = 200_000  # replay capacity, transitions
    batch_size: int = 256  # transitions per gradient step
    gradient_steps: int = 1  # gradient steps per iteration
    learning_starts: int = 5_000  # transitions in the buffer before the first gradient step
    n_step: int = 1  # steps summed into one return before bootstrapping
    hidden_sizes: tuple[int, ...] = (128, 128)
    activation: Literal["tanh", "relu"] = "relu"
    dueling: bool = True  # Q = V + A - mean(A)
    learning_rate: float = 3e-4
    learning_rate_end: float | None = None  # linear decay to this value; None: constant
    learning_rate_decay_steps: int = 1_000_000  # environment steps of the decay
    max_grad_norm: float = 10.0
    gamma: float = 0.99
    loss: Literal["huber", "mse"] = "huber"
    huber_delta: float = 1.0  # in units of the scaled reward
    target_update_period: int = 1  # gradient steps between target updates
    tau: float = 0.005  # target <- (1 - tau) target + tau online; 1 = hard copy
    # The network the trained greedy policy acts with: "online", or "target", the Polyak average
    # of the recent online iterates (steadier where the action gaps are small against the noise
    # of the last gradient steps; with tau = 1 it is a stale copy). Exploration always uses online.
    policy_network: Literal["online", "target"] = "online"
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    epsilon_decay_steps: int = 100_000  # environment steps of the linear decay
    reward_scale: float = 1.0  # rewards are multiplied by this before the targets
    normalize_obs: bool = False  # standardise observations with running statistics (as PPO)

    def check(self) -> None:
        require = self.require
        for key in ("num_envs", "buffer_size", "batch_size", "gradient_steps", "n_step",
                    "target_update_period", "epsilon_decay_steps", "learning_rate_decay_steps"):
            require(getattr(self, key) > 0, key, f"must be > 0, got {getattr(self, key)}")
        require(self.num_envs <= self.buffer_size, "buffer_size",
                f"must hold one step of all {self.num_envs} environments, got {self.buffer_size}")
        require(self.learning_starts >= 0, "learning_starts", f"must be >= 0, got {self.learning_starts}")
        require(len(self.hidden_sizes) > 0 and all(h > 0 for h in self.hidden_sizes),
                "hidden_sizes", f"must be a non-empty list of positive sizes, got {list(self.hidden_sizes)}")
        for key in ("learning_rate", "max_grad_norm", "huber_delta", "reward_scale"):
            require(getattr(self, key) > 0, key, f"must be > 0, got {getattr(self, key)}")
        require(self.learning_rate_end is None or self.learning_rate_end >= 0, "learning_rate_end",
                f"must be >= 0, got {self.learning_rate_end}")
        require(0 < self.gamma <= 1, "gamma", f"must be in (0, 1], got {self.gamma}")
        require(0 < self.tau <= 1, "tau", f"must be in (0, 1], got {self.tau}")
        for key in ("epsilon_start", "epsilon_end"):
            require(0 <= getattr(self, key) <= 1, key, f"must be in [0, 1], got {getattr(self, key)}")
