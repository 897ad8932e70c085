"""Actor-critic networks and the action distributions of their policy heads.

Actor and critic are separate MLPs. The actor's output parameterises one of two
heads:

* :class:`SquashedGaussian` (continuous quotes): a diagonal Gaussian over an
  unbounded "raw" action with a state-independent log std; the environment
  action is ``low + (high - low) * (tanh(raw) + 1) / 2``. PPO stores the raw
  sample, so log-probabilities and the ratio need no change-of-variables term
  (it would cancel in the ratio).
* :class:`Categorical` (discrete quote grid): logits over the actions.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu}
HIDDEN_INIT_SCALE = math.sqrt(2.0)  # orthogonal init gain of hidden layers
POLICY_INIT_SCALE = 0.01  # small last layer: initial policy close to the head's centre
VALUE_INIT_SCALE = 1.0
LOG_2PI = math.log(2.0 * math.pi)


def _dense(size: int, scale: float) -> nn.Dense:
    return nn.Dense(size, kernel_init=nn.initializers.orthogonal(scale),
                    bias_init=nn.initializers.zeros)


class MLP(nn.Module):
    hidden_sizes: Sequence[int]
    out_size: int
    out_scale: float
    activation: str = "tanh"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = ACTIVATIONS[self.activation]
        for size in self.hidden_sizes:
            x = act(_dense(size, HIDDEN_INIT_SCALE)(x))
        return _dense(self.out_size, self.out_scale)(x)


class ActorCritic(nn.Module):
    """``(obs) -> (distribution parameters, value)``; see the heads for the former."""

    hidden_sizes: Sequence[int]
    action_dim: int
    continuous: bool
    activation: str = "tanh"
    init_log_std: float = 0.0

    def setup(self):
        self.actor = MLP(tuple(self.hidden_sizes), self.action_dim, POLICY_INIT_SCALE, self.activation)
        self.critic = MLP(tuple(self.hidden_sizes), 1, VALUE_INIT_SCALE, self.activation)
        if self.continuous:
            self.log_std = self.param("log_std", nn.initializers.constant(self.init_log_std),
                                      (self.action_dim,))

    def __call__(self, obs: jax.Array):
        return self.distribution(obs), self.value(obs)

    def distribution(self, obs: jax.Array):
        out = self.actor(obs)
        if self.continuous:
            return out, jnp.broadcast_to(self.log_std, out.shape)
        return out

    def value(self, obs: jax.Array) -> jax.Array:
        return self.critic(obs)[..., 0]


def apply_both(net: ActorCritic, variables, obs: jax.Array):
    """``net.apply(variables, obs)``, with the first layers of actor and critic as one product.

    Both MLPs read the same observation, so their first kernels side by side make one
    ``(obs_dim, 2 * width)`` matrix product instead of two half-width ones; on CPU at
    PPO's minibatch sizes that is about a tenth of a gradient step. Same variables (and
    checkpoints) as the flax module; each output column is the same dot product.
    """
    params = variables["params"]
    actor, critic = params["actor"], params["critic"]
    act = ACTIVATIONS[net.activation]
    layers = len(net.hidden_sizes) + 1

    def dense(layer, x):
        return x @ layer["kernel"] + layer["bias"]

    first_actor, first_critic = actor["Dense_0"], critic["Dense_0"]
    split = first_actor["kernel"].shape[1]
    both = dense({"kernel": jnp.concatenate([first_actor["kernel"], first_critic["kernel"]], axis=1),
                  "bias": jnp.concatenate([first_actor["bias"], first_critic["bias"]])}, obs)
    x_actor, x_critic = both[..., :split], both[..., split:]
    for i in range(1, layers):
        x_actor = dense(actor[f"Dense_{i}"], act(x_actor))
        x_critic = dense(critic[f"Dense_{i}"], act(x_critic))
    value = x_critic[..., 0]
    if net.continuous:
        return (x_actor, jnp.broadcast_to(params["log_std"], x_actor.shape)), value
    return x_actor, value


@dataclasses.dataclass(frozen=True)
class SquashedGaussian:
    """Diagonal Gaussian over raw actions; ``to_action`` squashes dimension i into [low[i], high[i]]."""

    low: tuple[float, ...]
    high: tuple[float, ...]

    def sample(self, key, dist):
        mean, log_std = dist
        return mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape, mean.dtype)

    def log_prob(self, dist, raw):
        mean, log_std = dist
        z = (raw - mean) * jnp.exp(-log_std)
        return jnp.sum(-0.5 * z * z - log_std - 0.5 * LOG_2PI, axis=-1)

    def entropy(self, dist):
        _, log_std = dist
        return jnp.sum(log_std + 0.5 * (1.0 + LOG_2PI), axis=-1)

    def mode(self, dist):
        return dist[0]

    def to_action(self, raw):
        unit = 0.5 * (jnp.tanh(raw) + 1.0)
        low = jnp.asarray(self.low, jnp.float32)
        high = jnp.asarray(self.high, jnp.float32)
        return (low + (high - low) * unit).astype(jnp.float32)

    def raw_spec(self, action_dim: int) -> jax.ShapeDtypeStruct:
        return jax.ShapeDtypeStruct((action_dim,), jnp.float32)


@dataclasses.dataclass(frozen=True)
class Categorical:
    """Categorical over ``num_actions`` discrete actions, parameterised by logits."""

    num_actions: int

    def sample(self, key, logits):
        return jax.random.categorical(key, logits).astype(jnp.int32)

    def log_prob(self, logits, action):
        logp = jax.nn.log_softmax(logits)
        return jnp.take_along_axis(logp, action[..., None], axis=-1)[..., 0]

    def entropy(self, logits):
        logp = jax.nn.log_softmax(logits)
        return -jnp.sum(jnp.exp(logp) * logp, axis=-1)

    def mode(self, logits):
        return jnp.argmax(logits, axis=-1).astype(jnp.int32)

    def to_action(self, raw):
        return raw

    def raw_spec(self, action_dim: int) -> jax.ShapeDtypeStruct:
        return jax.ShapeDtypeStruct((), jnp.int32)


def make_head(action_space):
    """The head matching a gymnax action space: Box -> SquashedGaussian, Discrete -> Categorical."""
    if hasattr(action_space, "n"):
        return Categorical(int(action_space.n)), int(action_space.n)
    size = int(np.prod(action_space.shape))
    # Each dimension keeps its own bounds (a scalar bound applies to every dimension).
    low = np.broadcast_to(np.asarray(action_space.low, np.float32), action_space.shape).reshape(size)
    high = np.broadcast_to(np.asarray(action_space.high, np.float32), action_space.shape).reshape(size)
    return SquashedGaussian(tuple(map(float, low)), tuple(map(float, high))), size
