"""PPO in one compiled program: ``train_chunk`` runs K rollout+update iterations with ``lax.scan``.

Each iteration: ``num_envs`` environments step ``rollout_len`` times (a scan),
GAE (truncation bootstraps from the pre-reset observation), then
``num_epochs`` passes of ``num_minibatches`` clipped policy/value updates
(nested scans), then the observation normaliser absorbs the rollout's
observations. Float hyperparameters are leaves of the state (``hyper`` and the
``inject_hyperparams`` optimiser state), so changing them recompiles nothing.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxmm.agents.base import Learner
from jaxmm.agents.gae import compute_gae
from jaxmm.agents.networks import ActorCritic, apply_both, make_head
from jaxmm.agents.normalization import RunningMeanStd, init_normalizer, normalize, update_normalizer
from jaxmm.agents.rollout import (EpisodeTracker, episode_metrics, init_totals, init_tracker,
                                  reset_envs, step_envs, track_episodes)
from jaxmm.agents.shuffle import permutation
from jaxmm.errors import ConfigError
from jaxmm.policy import Policy

ADAM_EPS = 1e-5
ADV_EPS = 1e-8  # advantage standardisation floor
LOSS_METRICS = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")


@struct.dataclass
class PPOHyper:
    """Loss and return hyperparameters (float32 scalars; a sweep may vmap over them)."""

    gamma: jax.Array
    gae_lambda: jax.Array
    clip_eps: jax.Array
    value_clip_eps: jax.Array
    vf_coef: jax.Array
    ent_coef: jax.Array
    reward_scale: jax.Array
    learning_rate: jax.Array  # initial rate
    lr_final_fraction: jax.Array
    lr_decay_updates: jax.Array  # updates over which the rate decays (float32)
    max_grad_norm: jax.Array


@struct.dataclass
class PPOState:
    params: Any  # actor-critic variables
    opt_state: Any  # inject_hyperparams state: learning_rate and max_grad_norm are leaves
    norm: RunningMeanStd
    env_state: Any  # (num_envs,) batched environment state
    obs: jax.Array  # (num_envs, obs_dim) current observations
    tracker: EpisodeTracker
    key: jax.Array  # raw uint32 PRNG key
    updates: jax.Array  # int32 number of rollout+update iterations done
    hyper: PPOHyper
    env_params: Any  # the environment's parameters (reward weights included): data, not constants


class Transition(NamedTuple):
    obs: jax.Array
    raw_action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    final_obs: jax.Array


def _f32(x) -> jax.Array:
    return jnp.asarray(x, dtype=jnp.float32)


def make_optimizer(learning_rate, max_grad_norm) -> optax.GradientTransformation:
    return optax.chain(optax.clip_by_global_norm(max_grad_norm),
                       optax.adam(learning_rate, eps=ADAM_EPS))


def _strong_types(tree):
    """Re-create every leaf with an explicit dtype so no weak type enters the scan carry."""
    return jax.tree.map(lambda x: jnp.asarray(x, dtype=jnp.asarray(x).dtype), tree)


def updates_per_chunk(cfg, chunk_env_steps: int) -> int:
    per_update = cfg.num_envs * cfg.rollout_len
    if chunk_env_steps < per_update:
        raise ConfigError(f"train.chunk_env_steps ({chunk_env_steps}) is smaller than one PPO update "
                          f"(ppo.num_envs * ppo.rollout_len = {per_update})")
    return chunk_env_steps // per_update


def hyper_from_config(config) -> PPOHyper:
    """The float hyperparameters of ``config`` (its ``ppo`` section and run length)."""
    cfg = config.learner("ppo")
    batch_size = cfg.num_envs * cfg.rollout_len
    return PPOHyper(gamma=_f32(cfg.gamma), gae_lambda=_f32(cfg.gae_lambda),
                    clip_eps=_f32(cfg.clip_eps), value_clip_eps=_f32(cfg.value_clip_eps),
                    vf_coef=_f32(cfg.vf_coef), ent_coef=_f32(cfg.ent_coef),
                    reward_scale=_f32(cfg.reward_scale), learning_rate=_f32(cfg.learning_rate),
                    lr_final_fraction=_f32(cfg.lr_final_fraction),
                    lr_decay_updates=_f32(max(config.train.total_env_steps // batch_size, 1)),
                    max_grad_norm=_f32(cfg.max_grad_norm))


def make_learner(config, env) -> Learner:
    cfg = config.learner("ppo")
    head, action_dim = make_head(env.action_space())
    continuous = not hasattr(head, "num_actions")
    net = ActorCritic(hidden_sizes=tuple(cfg.hidden_sizes), action_dim=action_dim,
                      continuous=continuous, activation=cfg.activation,
                      init_log_std=cfg.init_log_std)
    optimizer = optax.inject_hyperparams(make_optimizer)(
        learning_rate=_f32(cfg.learning_rate), max_grad_norm=_f32(cfg.max_grad_norm))
    num_envs, rollout_len = cfg.num_envs, cfg.rollout_len
    batch_size = num_envs * rollout_len
    minibatch_size = batch_size // cfg.num_minibatches
    num_updates = updates_per_chunk(cfg, config.train.chunk_env_steps)
    obs_dim = int(env.observation_space().shape[0])

    def init(key, env_params, hyper: PPOHyper) -> PPOState:
        key_net, key_env, key_state = jax.random.split(key, 3)
        params = net.init(key_net, jnp.zeros((1, obs_dim), jnp.float32))
        obs, env_state = reset_envs(env, env_params, key_env, num_envs)
        opt_state = optimizer.init(params)
        opt_state = opt_state._replace(hyperparams={**opt_state.hyperparams,
                                                    "learning_rate": _f32(hyper.learning_rate),
                                                    "max_grad_norm": _f32(hyper.max_grad_norm)})
        state = PPOState(params=params, opt_state=opt_state,
                         norm=init_normalizer(obs_dim), env_state=env_state, obs=obs,
                         tracker=init_tracker(num_envs), key=key_state,
                         updates=jnp.zeros((), jnp.int32), hyper=hyper, env_params=env_params)
        return _strong_types(state)

    def rollout(state: PPOState, key, totals):
        def one_step(carry, step_key):
            env_state, obs, tracker, totals = carry
            key_act, key_env = jax.random.split(step_key)
            dist, value = apply_both(net, state.params, normalize(state.norm, obs, cfg.normalize_obs))
            raw = head.sample(key_act, dist)
            log_prob = head.log_prob(dist, raw)
            next_obs, env_state, reward, terminated, truncated, info = step_envs(
                env, state.env_params, key_env, env_state, head.to_action(raw))
            tracker, totals = track_episodes(tracker, totals, reward, terminated | truncated, info)
            transition = Transition(obs, raw, log_prob, value, reward.astype(jnp.float32),
                                    terminated, truncated, info["final_observation"])
            return (env_state, next_obs, tracker, totals), transition

        carry = (state.env_state, state.obs, state.tracker, totals)
        carry, traj = jax.lax.scan(one_step, carry, jax.random.split(key, rollout_len))
        return carry, traj

    def loss_fn(params, batch, hyper: PPOHyper):
        obs, raw, old_log_prob, old_value, advantages, returns = batch
        dist, value = apply_both(net, params, obs)
        log_prob = head.log_prob(dist, raw)
        log_ratio = log_prob - old_log_prob
        ratio = jnp.exp(log_ratio)
        adv = (advantages - advantages.mean()) / (advantages.std() + ADV_EPS)
        clipped_ratio = jnp.clip(ratio, 1.0 - hyper.clip_eps, 1.0 + hyper.clip_eps)
        policy_loss = -jnp.mean(jnp.minimum(ratio * adv, clipped_ratio * adv))
        value_clipped = old_value + jnp.clip(value - old_value, -hyper.value_clip_eps, hyper.value_clip_eps)
        value_loss = 0.5 * jnp.mean(jnp.maximum((value - returns) ** 2, (value_clipped - returns) ** 2))
        entropy = jnp.mean(head.entropy(dist))
        total = policy_loss + hyper.vf_coef * value_loss - hyper.ent_coef * entropy
        stats = {
            "policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy,
            "approx_kl": jnp.mean((ratio - 1.0) - log_ratio),
            "clip_fraction": jnp.mean((jnp.abs(ratio - 1.0) > hyper.clip_eps).astype(jnp.float32)),
        }
        return total, stats

    def sgd(params, opt_state, data, hyper, key):
        def epoch(carry, epoch_key):
            params, opt_state = carry
            perm = permutation(epoch_key, batch_size)
            shuffled = jax.tree.map(
                lambda x: x[perm].reshape(cfg.num_minibatches, minibatch_size, *x.shape[1:]), data)

            def minibatch(carry, batch):
                params, opt_state = carry
                grads, stats = jax.grad(loss_fn, has_aux=True)(params, batch, hyper)
                updates, opt_state = optimizer.update(grads, opt_state, params)
                return (optax.apply_updates(params, updates), opt_state), stats

            return jax.lax.scan(minibatch, (params, opt_state), shuffled)

        (params, opt_state), stats = jax.lax.scan(
            epoch, (params, opt_state), jax.random.split(key, cfg.num_epochs))
        return params, opt_state, jax.tree.map(jnp.mean, stats)

    def update(carry, _):
        state, totals = carry
        key, key_rollout, key_sgd = jax.random.split(state.key, 3)
        (env_state, obs, tracker, totals), traj = rollout(state, key_rollout, totals)
        hyper = state.hyper
        norm_obs = normalize(state.norm, traj.obs, cfg.normalize_obs)
        next_values = net.apply(state.params, normalize(state.norm, traj.final_obs, cfg.normalize_obs),
                                method=ActorCritic.value)
        terminated = traj.terminated if cfg.bootstrap_truncated else traj.terminated | traj.truncated
        advantages, returns = compute_gae(traj.reward * hyper.reward_scale, traj.value, next_values,
                                          terminated, traj.truncated, hyper.gamma, hyper.gae_lambda)
        flat = jax.tree.map(lambda x: x.reshape(batch_size, *x.shape[2:]),
                            (norm_obs, traj.raw_action, traj.log_prob, traj.value, advantages, returns))
        progress = jnp.minimum(state.updates.astype(jnp.float32) / hyper.lr_decay_updates, 1.0)
        learning_rate = hyper.learning_rate * (1.0 - (1.0 - hyper.lr_final_fraction) * progress)
        opt_state = state.opt_state._replace(
            hyperparams={**state.opt_state.hyperparams, "learning_rate": learning_rate,
                         "max_grad_norm": hyper.max_grad_norm})
        params, opt_state, stats = sgd(state.params, opt_state, flat, hyper, key_sgd)
        stats["learning_rate"] = learning_rate
        norm = update_normalizer(state.norm, traj.obs) if cfg.normalize_obs else state.norm
        state = state.replace(params=params, opt_state=opt_state, norm=norm, env_state=env_state,
                              obs=obs, tracker=tracker, key=key, updates=state.updates + 1)
        return (state, totals), stats

    def chunk(state: PPOState):
        (state, totals), stats = jax.lax.scan(update, (state, init_totals()), None, num_updates)
        metrics = {**episode_metrics(totals), **jax.tree.map(jnp.mean, stats)}
        return state, metrics

    def act(params, key, obs, env_state, env_params_):
        dist = net.apply(params["net"], normalize(params["norm"], obs, cfg.normalize_obs),
                         method=ActorCritic.distribution)
        return head.to_action(head.mode(dist))

    def policy(state: PPOState) -> Policy:
        return Policy(name="ppo", act=act, params={"net": state.params, "norm": state.norm})

    return Learner(hyper=hyper_from_config, init=init, chunk=chunk, train_chunk=jax.jit(chunk),
                   env_steps_per_chunk=num_updates * batch_size, policy=policy)
