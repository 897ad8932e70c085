"""PPO: learns one-step quoting problems with known optima; compiles once; pieces behave."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmm.agents import make_learner
from jaxmm.agents.normalization import init_normalizer, update_normalizer
from jaxmm.agents.rollout import episode_metrics, init_totals, init_tracker, track_episodes
from jaxmm.config import load_config
from jaxmm.envs import make_env

# One-step probe: a quote at depth d fills with probability A dt exp(-k d) and earns d, so the
# expected reward per side is A dt d exp(-k d), maximised at d = 1 / k. The clock ends the task,
# so there is nothing to bootstrap from after it.
PROBE_FILL_DECAY = 10.0
PROBE_OPTIMAL_DEPTH = 1.0 / PROBE_FILL_DECAY
PROBE = [
    "env.num_steps=1", "env.horizon=1", "env.arrival_rate=0.5", f"env.fill_decay={PROBE_FILL_DECAY}",
    "env.volatility=1e-6", "env.initial_inventory=0", "env.max_inventory=1", "env.max_depth=0.5",
    "reward.pnl=1", "ppo.reward_scale=100", "ppo.num_envs=1024", "ppo.rollout_len=2",
    "ppo.hidden_sizes=[16]", "ppo.bootstrap_truncated=false", "ppo.learning_rate=3e-3", "ppo.num_minibatches=4",
]


def _learner(overrides):
    config = load_config(None, overrides)
    env, env_params = make_env(config)
    return config, env, env_params, make_learner(config, env)


def _init(learner, config, env_params, seed):
    return learner.init(jax.random.PRNGKey(seed), env_params, learner.hyper(config))


def _deterministic_action(learner, state, env, env_params):
    policy = learner.policy(state)
    obs, env_state = env.reset(jax.random.PRNGKey(0), env_params)
    return np.asarray(policy.act(policy.params, jax.random.PRNGKey(0), obs, env_state, env_params))


def test_learns_optimal_one_step_depth_continuous():
    config, env, env_params, learner = _learner(PROBE + ["train.chunk_env_steps=100000"])
    state = _init(learner, config, env_params, 0)
    for _ in range(2):
        state, metrics = learner.train_chunk(state)
    depths = _deterministic_action(learner, state, env, env_params)
    np.testing.assert_allclose(depths, [PROBE_OPTIMAL_DEPTH] * 2, atol=0.02)
    # The deterministic policy's expected reward is within 2% of the optimum on each side.
    value = env_params.arrival_rate * env_params.dt * depths * np.exp(-PROBE_FILL_DECAY * depths)
    best = env_params.arrival_rate * env_params.dt * PROBE_OPTIMAL_DEPTH * np.exp(-1.0)
    assert np.all(value >= 0.98 * best)
    assert metrics["episodes"] > 0


def test_learns_best_grid_pair_discrete():
    grid = [0.0, PROBE_OPTIMAL_DEPTH, 0.3]
    config, env, env_params, learner = _learner(
        PROBE + ["env.action_type=discrete", f"env.depth_grid={grid}", "train.chunk_env_steps=50000"])
    state = _init(learner, config, env_params, 1)
    for _ in range(2):
        state, _ = learner.train_chunk(state)
    action = int(_deterministic_action(learner, state, env, env_params))
    np.testing.assert_allclose(np.asarray(env_params.action_grid[action]), [PROBE_OPTIMAL_DEPTH] * 2)


def test_second_chunk_and_new_learning_rate_do_not_recompile():
    config, _, env_params, learner = _learner(PROBE + ["train.chunk_env_steps=2048", "ppo.num_envs=16",
                                                        "ppo.rollout_len=4"])
    state = _init(learner, config, env_params, 0)
    state, _ = learner.train_chunk(state)
    state, metrics = learner.train_chunk(state)
    assert learner.train_chunk._cache_size() == 1
    # Hyperparameters are leaves: a different learning rate is data, not a new program.
    faster = state.replace(hyper=state.hyper.replace(learning_rate=jnp.float32(1e-2),
                                                     ent_coef=jnp.float32(0.1)))
    slow_state, _ = learner.train_chunk(state)
    fast_state, _ = learner.train_chunk(faster)
    assert learner.train_chunk._cache_size() == 1
    slow, fast = jax.tree.leaves(slow_state.params), jax.tree.leaves(fast_state.params)
    assert any(not np.allclose(a, b) for a, b in zip(slow, fast))
    assert set(metrics) >= {"episodes", "episode_reward", "policy_loss", "value_loss", "entropy"}
    assert all(np.isfinite(float(v)) for v in metrics.values())


def test_chunk_must_hold_one_update():
    from jaxmm.errors import ConfigError

    with pytest.raises(ConfigError, match="chunk_env_steps"):
        _learner(PROBE + ["train.chunk_env_steps=100"])


def test_episode_metrics_count_and_never_average_nothing():
    tracker, totals = init_tracker(3), init_totals()
    info = {"pnl": jnp.array([1.0, 2.0, 3.0]), "inventory": jnp.array([-2.0, 0.0, 1.0])}
    not_done = jnp.array([False, False, False])
    tracker, totals = track_episodes(tracker, totals, jnp.array([0.5, 1.0, 2.0]), not_done, info)
    empty = episode_metrics(totals)
    assert float(empty["episodes"]) == 0 and np.isnan(float(empty["episode_reward"]))
    done = jnp.array([True, False, True])
    tracker, totals = track_episodes(tracker, totals, jnp.array([0.5, 1.0, 2.0]), done, info)
    metrics = episode_metrics(totals)
    assert float(metrics["episodes"]) == 2
    np.testing.assert_allclose(float(metrics["episode_reward"]), (1.0 + 4.0) / 2)
    np.testing.assert_allclose(float(metrics["episode_pnl"]), (1.0 + 3.0) / 2)
    np.testing.assert_allclose(float(metrics["episode_abs_inventory"]), (2.0 + 1.0) / 2)
    np.testing.assert_allclose(np.asarray(tracker.reward), [0.0, 2.0, 0.0])  # ended episodes restart


def test_normalizer_matches_statistics_of_all_batches():
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, size=(n, 4)).astype(np.float32) for n in (5, 40, 7)]
    stats = init_normalizer(4)
    for batch in batches:
        stats = update_normalizer(stats, jnp.asarray(batch))
    everything = np.concatenate(batches)
    np.testing.assert_allclose(stats.mean, everything.mean(0), rtol=1e-5)
    np.testing.assert_allclose(stats.var, everything.var(0), rtol=1e-4)
    assert float(stats.count) == len(everything)


def test_gaussian_head_keeps_each_dimension_bounds():
    """The book's continuous action: offsets up to max_quote_offset, sizes, a reduce fraction in [0, 1]."""
    from gymnax.environments import spaces

    from jaxmm.agents.networks import make_head

    high = np.array([8.0, 8.0, 5.0, 5.0, 1.0], np.float32)
    head, dim = make_head(spaces.Box(jnp.zeros(5), jnp.asarray(high), (5,), jnp.float32))
    assert dim == 5
    np.testing.assert_allclose(head.to_action(jnp.zeros(5)), high / 2)  # a fresh policy's centre
    np.testing.assert_allclose(head.to_action(jnp.full(5, 20.0)), high, rtol=1e-6)
    np.testing.assert_allclose(head.to_action(jnp.full(5, -20.0)), 0.0, atol=1e-6)
    scalar, _ = make_head(spaces.Box(0.0, 0.05, (2,), jnp.float32))  # a scalar bound applies to each
    np.testing.assert_allclose(scalar.to_action(jnp.full(2, 20.0)), [0.05, 0.05], rtol=1e-6)
