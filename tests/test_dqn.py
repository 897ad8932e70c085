"""Double DQN: n-step returns, targets, target updates, epsilon, learning, sweeps and exact resume."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmm import checkpoint, training
from jaxmm.agents import make_learner
from jaxmm.agents.dqn import hyper_from_config
from jaxmm.errors import ConfigError
from jaxmm.agents.dqn_losses import (Transition, double_dqn_target, linear_schedule, nstep_transition,
                                     td_loss, update_target)
from jaxmm.config.loader import load_config
from jaxmm.envs import make_env
from jaxmm.evaluate import evaluate_policy
from jaxmm.sweeps.stacking import member
from tests.interrupt import interrupt_then_resume

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
GAMMA = 0.9

# A problem with a known answer: 10 steps, A dt = 100 and k = 100, so a quote at depth
# 0.04 fills with certainty (100 exp(-4) > 1) while one at 0.08 fills with probability
# 100 exp(-8) = 0.034. Quoting (0.04, 0.04) earns 0.08 a step, keeps the inventory at
# zero and is optimal everywhere: the optimal episode reward is exactly 0.8.
TINY_OPTIMUM = 0.8
TINY = [
    "env.volatility=0.001", "env.arrival_rate=1000", "env.fill_decay=100", "env.num_steps=10",
    "env.max_inventory=5", "env.initial_inventory=0", "env.depth_grid=[0.01, 0.04, 0.08]",
    "reward.running_inventory_penalty=0", "reward.terminal_inventory_penalty=0",
    "train.chunk_env_steps=320", "dqn.num_envs=16", "dqn.buffer_size=20000", "dqn.batch_size=64",
    "dqn.learning_starts=500", "dqn.hidden_sizes=[32, 32]", "dqn.learning_rate=0.001",
    "dqn.gamma=0.9", "dqn.epsilon_decay_steps=3000", "dqn.reward_scale=10", "dqn.n_step=1",
]


def _tiny(*overrides):
    cfg = load_config(CONFIGS / "dqn_cj_small.yaml", [*TINY, *overrides])
    env, env_params = make_env(cfg)
    return cfg, env, env_params, make_learner(cfg, env)


def _init(learner, cfg, env_params, key, hyper=None):
    return learner.init(key, env_params, learner.hyper(cfg) if hyper is None else hyper)


@pytest.fixture(scope="module")
def tiny():
    """One compiled learner shared by the tests (20 iterations of 16 environments per chunk)."""
    return _tiny()


def _window(rewards, done, terminated):
    n = len(rewards)
    return Transition(
        obs=jnp.arange(n, dtype=jnp.float32)[:, None] * jnp.ones((n, 2)),
        action=jnp.arange(n, dtype=jnp.int32),
        reward=jnp.asarray(rewards, jnp.float32),
        next_obs=10.0 + jnp.arange(n, dtype=jnp.float32)[:, None] * jnp.ones((n, 2)),
        discount=1.0 - jnp.asarray(terminated, jnp.float32),
        done=jnp.asarray(done))


# ---------------------------------------------------------------- n-step returns and targets
def test_nstep_without_episode_end_sums_all_steps_and_bootstraps_from_the_last():
    out = nstep_transition(_window([1.0, 2.0, 4.0], [False] * 3, [False] * 3), GAMMA)
    np.testing.assert_allclose(out.reward, 1.0 + GAMMA * 2.0 + GAMMA**2 * 4.0, rtol=1e-6)
    np.testing.assert_allclose(out.discount, GAMMA**3, rtol=1e-6)
    np.testing.assert_array_equal(out.next_obs, [12.0, 12.0])
    assert int(out.action) == 0 and not bool(out.done)


def test_nstep_truncation_bootstraps_from_the_final_observation_of_that_step():
    out = nstep_transition(_window([1.0, 2.0, 4.0], [False, True, False], [False] * 3), GAMMA)
    np.testing.assert_allclose(out.reward, 1.0 + GAMMA * 2.0, rtol=1e-6)  # the next episode's 4 is left out
    np.testing.assert_allclose(out.discount, GAMMA**2, rtol=1e-6)
    np.testing.assert_array_equal(out.next_obs, [11.0, 11.0])


def test_nstep_termination_does_not_bootstrap():
    out = nstep_transition(_window([1.0, 2.0, 4.0], [False, True, False], [False, True, False]), GAMMA)
    np.testing.assert_allclose(out.reward, 1.0 + GAMMA * 2.0, rtol=1e-6)
    assert float(out.discount) == 0.0


def test_double_dqn_target_by_hand():
    # Three one-step transitions: ongoing, truncated (bootstraps) and terminated (does not).
    steps = [nstep_transition(_window([r], [d], [t]), GAMMA)
             for r, d, t in ((1.0, False, False), (2.0, True, False), (3.0, True, True))]
    batch = jax.tree.map(lambda *xs: jnp.stack(xs), *steps)
    q_next_online = jnp.array([[1.0, 3.0, 2.0], [5.0, 0.0, 1.0], [0.0, 0.0, 9.0]])
    q_next_target = jnp.array([[10.0, 20.0, 30.0], [7.0, 8.0, 9.0], [1.0, 1.0, 100.0]])
    # The online network picks the action (1, 0, 2); the target network values it.
    expected = [1.0 + GAMMA * 20.0, 2.0 + GAMMA * 7.0, 3.0]
    target = double_dqn_target(batch.reward, batch.discount, q_next_online, q_next_target)
    np.testing.assert_allclose(target, expected, rtol=1e-6)


def test_td_loss_has_no_gradient_through_the_target():
    grad = jax.grad(lambda q: td_loss(q, 2.0 * q, "mse", jnp.float32(1.0)))(jnp.array([1.0, 3.0]))
    np.testing.assert_allclose(grad, [-0.5, -1.5])  # d/dq of mean(0.5 (q - c)^2) with c = 2q held fixed
    huber = td_loss(jnp.array([0.0, 0.0]), jnp.array([0.5, 3.0]), "huber", jnp.float32(1.0))
    np.testing.assert_allclose(huber, (0.5 * 0.25 + (3.0 - 0.5)) / 2)


# ---------------------------------------------------------------- target updates and epsilon
def test_hard_target_update_copies_every_period_steps():
    target, online = {"w": jnp.zeros(3)}, {"w": jnp.ones(3)}
    period, tau = jnp.int32(3), jnp.float32(1.0)
    for step in (1, 2, 4, 5):
        np.testing.assert_array_equal(update_target(target, online, jnp.int32(step), period, tau)["w"], 0.0)
    for step in (3, 6):
        np.testing.assert_array_equal(update_target(target, online, jnp.int32(step), period, tau)["w"], 1.0)


def test_polyak_target_update_moves_tau_of_the_way():
    target, online = {"w": jnp.full(2, 2.0)}, {"w": jnp.full(2, 12.0)}
    out = update_target(target, online, jnp.int32(7), jnp.int32(1), jnp.float32(0.1))
    np.testing.assert_allclose(out["w"], 3.0, rtol=1e-6)


def test_linear_schedule_schedule():
    schedule = [float(linear_schedule(jnp.int32(t), jnp.float32(1.0), jnp.float32(0.1), jnp.float32(100.0)))
                for t in (0, 50, 100, 1000)]
    np.testing.assert_allclose(schedule, [1.0, 0.55, 0.1, 0.1], rtol=1e-6)


# ---------------------------------------------------------------- the learner
def test_buffer_holds_final_observations_of_truncated_steps(tiny):
    cfg, env, env_params, learner = tiny
    no_learning = hyper_from_config(cfg).replace(learning_starts=jnp.int32(10**9))
    state, _ = learner.train_chunk(_init(learner, cfg, env_params, jax.random.key(0), no_learning))  # 2 episodes per env
    data = jax.tree.map(np.asarray, state.buffer.data)
    done = data.done[: int(state.buffer.size)]
    assert done.sum() == 2 * cfg.learner("dqn").num_envs
    # Time remaining in the bootstrap observation: 0 at the horizon, never a reset observation's 1.
    np.testing.assert_allclose(data.next_obs[:len(done)][done, 0], 0.0, atol=1e-6)
    np.testing.assert_allclose(data.obs[:len(done)][done, 0], 1.0 / 10, rtol=1e-5)
    np.testing.assert_allclose(data.discount[:len(done)][done], GAMMA, rtol=1e-6)  # truncated: bootstraps
    assert not np.any(data.next_obs[:len(done)][~done, 0] == 1.0)


def test_dqn_learns_a_problem_with_a_known_answer(tiny):
    cfg, env, env_params, learner = tiny
    state = _init(learner, cfg, env_params, jax.random.key(0))
    for _ in range(30):
        state, metrics = learner.train_chunk(state)
    assert float(metrics["episodes"]) > 0
    result = evaluate_policy(env, env_params, learner.policy(state), episodes=256, seed=1)
    np.testing.assert_allclose(result["metrics"]["reward_mean"], TINY_OPTIMUM, rtol=1e-4)


def test_seeds_and_learning_rates_vmap_in_one_program():
    cfg, env, env_params, learner = _tiny("train.chunk_env_steps=160", "dqn.learning_starts=0")
    base = hyper_from_config(cfg)
    hypers = jax.tree.map(lambda x: jnp.stack([x, x]), base)
    rates = jnp.array([1e-3, 0.0], jnp.float32)
    hypers = hypers.replace(learning_rate=rates, learning_rate_end=rates)
    params = jax.tree.map(lambda x: jnp.stack([x, x]), env_params)
    states = jax.vmap(learner.init)(jax.random.split(jax.random.key(0), 2), params, hypers)
    first = jax.tree.map(lambda x: x, states.online)
    states, metrics = jax.vmap(learner.train_chunk)(states)
    assert metrics["loss"].shape == (2,)
    moved = [max(float(jnp.max(jnp.abs(a[i] - b[i]))) for a, b in
                 zip(jax.tree.leaves(states.online), jax.tree.leaves(first))) for i in range(2)]
    assert moved[0] > 0.0 and moved[1] == 0.0  # a zero learning rate leaves the weights alone


def _saved_state(run):
    _, state = checkpoint.restore_population(run)
    return member(state, 0)


def test_interrupted_and_resumed_training_matches_uninterrupted(tmp_path, monkeypatch):
    args = ["--config", str(CONFIGS / "dqn_cj_small.yaml"), "--no-progress", *TINY, "dqn.n_step=3",
            "dqn.learning_starts=100", "train.total_env_steps=960", "train.eval_episodes=16",
            "eval.batch_size=16", "train.baselines=[]"]
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    training.main([*args, "--run-dir", str(straight)])
    interrupt_then_resume(monkeypatch, args, interrupted)
    a, b = _saved_state(straight), _saved_state(interrupted)
    assert int(a.buffer.size) == int(b.buffer.size) > 0
    # Weights, target, optimiser, replay buffer, n-step windows, environments, key: all identical.
    for x, y in zip(jax.tree.leaves(jax.random.key_data(a.key)), jax.tree.leaves(jax.random.key_data(b.key))):
        np.testing.assert_array_equal(x, y)
    for x, y in zip(jax.tree.leaves(a.replace(key=None)), jax.tree.leaves(b.replace(key=None))):
        np.testing.assert_array_equal(x, y)


def test_the_policy_acts_with_the_network_the_config_names(tiny):
    cfg, env, env_params, learner = tiny
    state = _init(learner, cfg, env_params, jax.random.key(0))
    state, _ = learner.train_chunk(state.replace(hyper=state.hyper.replace(learning_starts=jnp.int32(0))))
    # after a gradient step with tau < 1 the Polyak average differs from the online network
    assert not all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(state.online), jax.tree.leaves(state.target)))
    for name, network in (("online", state.online), ("target", state.target)):
        *_, learner_n = _tiny(f"dqn.policy_network={name}")
        for a, b in zip(jax.tree.leaves(learner_n.policy(state).params[0]), jax.tree.leaves(network)):
            np.testing.assert_array_equal(a, b)


def test_config_builds_and_needs_a_discrete_action_space():
    cfg = load_config(CONFIGS / "dqn_cj_small.yaml")
    env, env_params = make_env(cfg)
    assert make_learner(cfg, env).env_steps_per_chunk > 0
    cfg = load_config(CONFIGS / "dqn_cj_small.yaml", ["env.action_type=continuous"])
    env, env_params = make_env(cfg)
    with pytest.raises(ConfigError, match="discrete"):
        make_learner(cfg, env)
