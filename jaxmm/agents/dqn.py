"""Double DQN on a discrete action space: target network, on-device replay, n-step returns.

One ``train_chunk`` is a ``lax.scan`` over iterations; each iteration steps
every environment once with an epsilon-greedy action, turns the window of the
last ``n_step`` steps into one n-step transition per environment, adds them to
the replay buffer and, once the buffer holds ``learning_starts`` transitions,
takes ``gradient_steps`` gradient steps on uniform minibatches, each followed
by a (hard or Polyak) target update. Everything (networks, optimiser, replay
buffer, environment states, the open n-step windows, PRNG key, hyperparameters)
is one pytree, so a checkpoint resumes exactly and ``vmap`` runs seeds and
hyperparameter sweeps side by side.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxmm.agents import replay
from jaxmm.agents.base import Learner
from jaxmm.agents.dqn_config import DQNConfig
from jaxmm.agents.dqn_losses import (Transition, double_dqn_target, linear_schedule, nstep_transition,
                                     td_loss, update_target)
from jaxmm.agents.networks import MLP
from jaxmm.agents.normalization import RunningMeanStd, init_normalizer, normalize, update_normalizer
from jaxmm.agents.rollout import (EpisodeTracker, episode_metrics, init_totals, init_tracker, reset_envs,
                                  step_envs, track_episodes)
from jaxmm.errors import ConfigError
from jaxmm.policy import Policy

Q_INIT_SCALE = 1.0  # orthogonal init gain of the Q head


class QNetwork(nn.Module):
    """``obs -> Q(obs, .)``; dueling: one head for V and the advantages, Q = V + A - mean(A)."""

    hidden_sizes: Sequence[int]
    num_actions: int
    dueling: bool = True
    activation: str = "relu"

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        out_size = self.num_actions + 1 if self.dueling else self.num_actions
        out = MLP(tuple(self.hidden_sizes), out_size, Q_INIT_SCALE, self.activation)(obs)
        if not self.dueling:
            return out
        value, advantage = out[..., :1], out[..., 1:]
        return value + advantage - jnp.mean(advantage, axis=-1, keepdims=True)


@struct.dataclass
class DQNHyper:
    """Hyperparameters a sweep may vary: leaves of the training state (float32 / int32)."""

    learning_rate: jax.Array
    learning_rate_end: jax.Array
    learning_rate_decay_steps: jax.Array  # float32, environment steps
    max_grad_norm: jax.Array
    gamma: jax.Array
    tau: jax.Array
    target_update_period: jax.Array  # int32, gradient steps
    epsilon_start: jax.Array
    epsilon_end: jax.Array
    epsilon_decay_steps: jax.Array  # float32, environment steps
    learning_starts: jax.Array  # int32, transitions in the buffer
    reward_scale: jax.Array
    huber_delta: jax.Array


def hyper_from_config(config) -> DQNHyper:
    """The float hyperparameters of ``config`` (its ``dqn`` section)."""
    cfg: DQNConfig = config.learner("dqn")
    f32 = lambda x: jnp.asarray(x, jnp.float32)
    return DQNHyper(
        learning_rate=f32(cfg.learning_rate),
        learning_rate_end=f32(cfg.learning_rate if cfg.learning_rate_end is None else cfg.learning_rate_end),
        learning_rate_decay_steps=f32(cfg.learning_rate_decay_steps),
        max_grad_norm=f32(cfg.max_grad_norm), gamma=f32(cfg.gamma),
        tau=f32(cfg.tau), target_update_period=jnp.int32(cfg.target_update_period),
        epsilon_start=f32(cfg.epsilon_start), epsilon_end=f32(cfg.epsilon_end),
        epsilon_decay_steps=f32(cfg.epsilon_decay_steps), learning_starts=jnp.int32(cfg.learning_starts),
        reward_scale=f32(cfg.reward_scale), huber_delta=f32(cfg.huber_delta))


@struct.dataclass
class DQNState:
    online: Any
    target: Any
    opt_state: Any
    normalizer: RunningMeanStd
    hyper: DQNHyper
    env_params: Any  # the environment's parameters (reward weights included): data, not constants
    env_state: Any  # batched over environments
    obs: jax.Array  # float32 (num_envs, obs_dim)
    window: Transition  # the last n_step - 1 steps, leaves (n_step - 1, num_envs, ...)
    buffer: replay.ReplayBuffer
    tracker: EpisodeTracker  # running reward of each environment's current episode
    key: jax.Array
    env_steps: jax.Array  # int32
    gradient_steps: jax.Array  # int32


def _optimizer(learning_rate, max_grad_norm):
    return optax.chain(optax.clip_by_global_norm(max_grad_norm), optax.adam(learning_rate))


def make_learner(config, env) -> Learner:
    cfg: DQNConfig = config.learner("dqn")
    if not hasattr(env.action_space(), "n"):
        raise ConfigError("train.algo: dqn needs a discrete action space; set env.action_type: discrete")
    num_actions = int(env.action_space().n)
    num_envs, n_step = cfg.num_envs, cfg.n_step
    iterations = max(1, config.train.chunk_env_steps // num_envs)
    obs_dim = int(env.observation_space().shape[0])
    normalize_obs = cfg.normalize_obs
    network = QNetwork(tuple(cfg.hidden_sizes), num_actions, cfg.dueling, cfg.activation)
    tx = optax.inject_hyperparams(_optimizer)(learning_rate=cfg.learning_rate,
                                              max_grad_norm=cfg.max_grad_norm)

    def q_values(params, normalizer, obs):
        return network.apply(params, normalize(normalizer, obs, normalize_obs))

    def env_step(env_params, env_state, obs, key, action):
        """Step all environments from ``obs``: new states and observations, the step's transitions, info."""
        next_obs, env_state, reward, terminated, truncated, info = step_envs(env, env_params, key,
                                                                             env_state, action)
        step = Transition(obs=obs, action=action, reward=reward.astype(jnp.float32),
                          next_obs=info["final_observation"].astype(jnp.float32),
                          discount=1.0 - terminated.astype(jnp.float32), done=terminated | truncated)
        return env_state, next_obs.astype(jnp.float32), step, reward, info

    def init(key, env_params, hyper: DQNHyper) -> DQNState:
        net_key, reset_key, warm_key, key = jax.random.split(key, 4)
        online = network.init(net_key, jnp.zeros((obs_dim,), jnp.float32))
        opt_state = tx.init(online)
        opt_state.hyperparams["learning_rate"] = hyper.learning_rate
        opt_state.hyperparams["max_grad_norm"] = hyper.max_grad_norm
        obs, env_state = reset_envs(env, env_params, reset_key, num_envs)
        obs = obs.astype(jnp.float32)
        tracker = init_tracker(num_envs)
        # Fill the n-step window with n_step - 1 uniformly random steps, so that every
        # later iteration emits exactly one transition per environment.
        steps = []
        for warm in jax.random.split(warm_key, n_step - 1):
            action_key, step_key = jax.random.split(warm)
            action = jax.random.randint(action_key, (num_envs,), 0, num_actions, dtype=jnp.int32)
            env_state, obs, step, reward, info = env_step(env_params, env_state, obs, step_key, action)
            tracker, _ = track_episodes(tracker, init_totals(), reward, step.done, info)
            steps.append(step)
        shapes = jax.eval_shape(env_step, env_params, env_state, obs, warm_key,
                                jnp.zeros((num_envs,), jnp.int32))[2]
        if steps:
            window = jax.tree.map(lambda *xs: jnp.stack(xs), *steps)
        else:
            window = jax.tree.map(lambda x: jnp.zeros((0, *x.shape), x.dtype), shapes)
        buffer = replay.init_buffer(jax.tree.map(lambda x: jnp.zeros(x.shape[1:], x.dtype), shapes),
                                    cfg.buffer_size)
        normalizer = init_normalizer(obs_dim)
        if normalize_obs:
            normalizer = update_normalizer(normalizer, obs)
        return DQNState(online=online, target=online, opt_state=opt_state, normalizer=normalizer,
                        hyper=hyper, env_params=env_params, env_state=env_state, obs=obs, window=window,
                        buffer=buffer,
                        tracker=tracker, key=key, env_steps=jnp.int32((n_step - 1) * num_envs),
                        gradient_steps=jnp.int32(0))

    def loss_fn(params, target, normalizer, hyper: DQNHyper, batch: Transition):
        q = q_values(params, normalizer, batch.obs)
        q_taken = jnp.take_along_axis(q, batch.action[:, None], axis=-1)[:, 0]
        q_next_online = jax.lax.stop_gradient(q_values(params, normalizer, batch.next_obs))
        q_next_target = q_values(target, normalizer, batch.next_obs)
        y = double_dqn_target(hyper.reward_scale * batch.reward, batch.discount, q_next_online, q_next_target)
        return td_loss(q_taken, y, cfg.loss, hyper.huber_delta), jnp.mean(q_taken)

    def gradient_step(state: DQNState, key):
        batch = replay.sample(state.buffer, key, cfg.batch_size)
        (loss, q_mean), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state.online, state.target, state.normalizer, state.hyper, batch)
        opt_state = state.opt_state
        hyper = state.hyper
        opt_state.hyperparams["learning_rate"] = linear_schedule(
            state.env_steps, hyper.learning_rate, hyper.learning_rate_end, hyper.learning_rate_decay_steps)
        opt_state.hyperparams["max_grad_norm"] = state.hyper.max_grad_norm
        updates, opt_state = tx.update(grads, opt_state, state.online)
        online = optax.apply_updates(state.online, updates)
        count = state.gradient_steps + 1
        target = update_target(state.target, online, count, state.hyper.target_update_period, state.hyper.tau)
        state = state.replace(online=online, target=target, opt_state=opt_state, gradient_steps=count)
        return state, (loss, q_mean)

    def learn(state: DQNState, key):
        def run(state):
            state, (loss, q_mean) = jax.lax.scan(gradient_step, state, jax.random.split(key, cfg.gradient_steps))
            return state, jnp.mean(loss), jnp.mean(q_mean), jnp.float32(1.0)

        def skip(state):
            return state, jnp.float32(0.0), jnp.float32(0.0), jnp.float32(0.0)

        return jax.lax.cond(state.buffer.size >= state.hyper.learning_starts, run, skip, state)

    def iteration(carry, _):
        state, totals = carry
        key, explore_key, random_key, step_key, learn_key = jax.random.split(state.key, 5)
        hyper = state.hyper
        epsilon = linear_schedule(state.env_steps, hyper.epsilon_start, hyper.epsilon_end,
                                 hyper.epsilon_decay_steps)
        greedy = jnp.argmax(q_values(state.online, state.normalizer, state.obs), axis=-1).astype(jnp.int32)
        random_action = jax.random.randint(random_key, (num_envs,), 0, num_actions, dtype=jnp.int32)
        explore = jax.random.uniform(explore_key, (num_envs,)) < epsilon
        action = jnp.where(explore, random_action, greedy)
        env_state, obs, step, reward, info = env_step(state.env_params, state.env_state, state.obs, step_key,
                                                      action)
        tracker, totals = track_episodes(state.tracker, totals, reward, step.done, info)
        full = jax.tree.map(lambda w, x: jnp.concatenate([w, x[None]]), state.window, step)
        emitted = jax.vmap(nstep_transition, in_axes=(1, None))(full, hyper.gamma)
        normalizer = update_normalizer(state.normalizer, obs) if normalize_obs else state.normalizer
        state = state.replace(env_state=env_state, obs=obs, tracker=tracker, key=key,
                              window=jax.tree.map(lambda x: x[1:], full),
                              buffer=replay.add(state.buffer, emitted), normalizer=normalizer,
                              env_steps=state.env_steps + num_envs)
        state, loss, q_mean, learned = learn(state, learn_key)
        return (state, totals), {"loss": loss, "q_mean": q_mean, "learned": learned, "epsilon": epsilon}

    def chunk(state: DQNState):
        (state, totals), out = jax.lax.scan(iteration, (state, init_totals()), None, length=iterations)
        updates = jnp.maximum(jnp.sum(out["learned"]), 1.0)
        metrics = {**episode_metrics(totals), "loss": jnp.sum(out["loss"]) / updates,
                   "q_mean": jnp.sum(out["q_mean"]) / updates, "epsilon": out["epsilon"][-1],
                   "buffer_size": state.buffer.size.astype(jnp.float32)}
        return state, jax.tree.map(lambda x: x.astype(jnp.float32), metrics)

    def act(params, key, obs, env_state, env_params_):
        network_params, normalizer = params
        return jnp.argmax(q_values(network_params, normalizer, obs), axis=-1).astype(jnp.int32)

    def policy(state: DQNState) -> Policy:
        network_params = state.target if cfg.policy_network == "target" else state.online
        return Policy(name="dqn", act=act, params=(network_params, state.normalizer))

    return Learner(hyper=hyper_from_config, init=init, chunk=chunk, train_chunk=jax.jit(chunk),
                   env_steps_per_chunk=iterations * num_envs, policy=policy)
