"""The exact optimum of the discrete problem: against a NumPy reference, simulation, and the CJP limit."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmm.baselines import make_baseline
from jaxmm.baselines.cartea_jaimungal import value_table
from jaxmm.baselines.dynamic_programming import greedy_table, initial_value, policy_values, solve
from jaxmm.config import load_config
from jaxmm.envs import make_env
from jaxmm.errors import ConfigError
from tests.reference import numpy_baselines as ref
from tests.test_baselines import CI_Z, CLOSED_FORM_RTOL, CJ_SMALL, assert_mean_within, rollout_rewards

FLOAT32_RTOL = 1e-5
WEIGHTS = (1.0, 0.3, 0.2, 0.1)  # pnl, running, terminal, volatility: every component in play
GRID_TOP = 0.03  # cj_small depth grids span [0, 3 / kappa]
SIMULATED_EPISODES = 16384


def grid_text(depths) -> str:
    return "[" + ",".join(".inf" if d == math.inf else repr(float(d)) for d in depths) + "]"


def grid_overrides(depths) -> list[str]:
    """Every (bid, ask) pair of ``depths``; an infinite depth (no quote) becomes the one-sided rows
    and the row quoting nothing, since depth_grid itself takes finite depths only."""
    finite = sorted({float(d) for d in depths if math.isfinite(d)})
    overrides = ["env.action_type=discrete", f"env.depth_grid={grid_text(finite)}"]
    if any(math.isinf(d) for d in depths):
        overrides += ["env.one_sided_quotes=true", "env.quote_pairs=[[null,null]]"]
    return overrides


def discrete(path, depths, *overrides):
    cfg = load_config(path, [*grid_overrides(depths), *overrides])
    return cfg, *make_env(cfg)


def nested_grid(points: int, size: int):
    """linspace(0, GRID_TOP, points) plus no-quote, repeated to ``size`` entries (the grid drops repeats)."""
    depths = [*np.linspace(0.0, GRID_TOP, points), math.inf]
    return [depths[i % len(depths)] for i in range(size)]


@functools.lru_cache(maxsize=None)
def cj_small_dp_value(steps: int, points: int) -> float:
    _, _, params = discrete(CJ_SMALL, [*np.linspace(0.0, GRID_TOP, points), math.inf], f"env.num_steps={steps}")
    return initial_value(solve(params), params)


@functools.lru_cache(maxsize=None)
def cj_small_closed_form() -> float:
    cfg = load_config(CJ_SMALL)
    e, w = cfg.env, cfg.reward.weights
    h = value_table(e.arrival_rate, e.fill_decay, w["running_inventory_penalty"], w["terminal_inventory_penalty"],
                    e.dt, e.num_steps, e.max_inventory)
    return float(h[0].mean())  # initial inventory uniform on {-3, ..., 3}


def tiny_problem():
    weights = [f"reward.{n}={w}" for n, w in zip(
        ["pnl", "running_inventory_penalty", "terminal_inventory_penalty", "inventory_volatility_penalty"], WEIGHTS)]
    depths = [0.0, 0.4, 1.2, math.inf]
    cfg, env, params = discrete(None, depths, *weights, "env.num_steps=6", "env.max_inventory=2", "env.drift=0.3",
                                "env.volatility=1.2", "env.arrival_rate=8.0", "env.initial_inventory=[-1,2]")
    e = cfg.env
    grid = [tuple(row) for row in np.asarray(params.action_grid, np.float64)]
    return cfg, env, params, (grid, e.arrival_rate, e.fill_decay, e.dt, e.num_steps, e.max_inventory, WEIGHTS,
                              e.volatility, e.drift)


def test_matches_numpy_backward_induction():
    """A tiny problem where every term matters: drift, all four weights, fill probabilities capped at 1
    (A dt > 1 at small depths), no-quote sides and both inventory limits."""
    cfg, env, params, problem = tiny_problem()
    ref_value, _ = ref.dp_reference(*problem)
    solution = solve(params)
    np.testing.assert_allclose(np.asarray(solution.value), ref_value, rtol=FLOAT32_RTOL, atol=FLOAT32_RTOL)
    # Ties may be broken differently in float32; the chosen actions must be worth the optimum.
    chosen = ref.dp_policy_value(np.asarray(solution.policy), *problem)
    np.testing.assert_allclose(chosen, ref_value, rtol=FLOAT32_RTOL, atol=FLOAT32_RTOL)
    policy = make_baseline("dynamic_programming", cfg, env, params)
    assert policy.closed_form_value == pytest.approx(ref_value[0, 1:5].mean(), rel=FLOAT32_RTOL)  # q0 in -1..2


def test_policy_values_of_random_tables_match_numpy_policy_evaluation():
    cfg, env, params, problem = tiny_problem()
    rng = np.random.default_rng(0)
    for _ in range(5):
        table = rng.integers(0, params.action_grid.shape[0], size=(cfg.env.num_steps, 2 * cfg.env.max_inventory + 1))
        np.testing.assert_allclose(np.asarray(policy_values(params, table)), ref.dp_policy_value(table, *problem),
                                   rtol=FLOAT32_RTOL, atol=FLOAT32_RTOL)
    optimum = solve(params)
    np.testing.assert_allclose(np.asarray(policy_values(params, optimum.policy)), np.asarray(optimum.value),
                               rtol=FLOAT32_RTOL, atol=FLOAT32_RTOL)
    with pytest.raises(ValueError, match=r"shape \(5, 5\); expected .* \(6, 5\)"):
        policy_values(params, table[:5])


def test_greedy_table_reads_a_policy_at_every_step_and_inventory():
    """The optimal policy tabulates back to its own table, and a policy reading the observation
    (step and inventory scaled as the environment scales them) to the table it encodes."""
    cfg, env, params = discrete(CJ_SMALL, [0.0, 0.01, 0.02, math.inf], "env.num_steps=30")
    optimum = make_baseline("dynamic_programming", cfg, env, params)
    np.testing.assert_array_equal(np.asarray(greedy_table(env, params, optimum)), np.asarray(optimum.params.policy))
    actions = int(params.action_grid.shape[0])

    def from_obs(_, key, obs, state, env_params):  # action = a function of the observation alone
        step = jnp.round((1.0 - obs[0]) * 30).astype(jnp.int32)
        inventory = jnp.round(obs[1] * 3).astype(jnp.int32)
        return (step * 7 + inventory) % actions

    table = np.asarray(greedy_table(env, params, optimum._replace(act=from_obs)))
    steps, inventory = np.meshgrid(np.arange(30), np.arange(-3, 4), indexing="ij")
    np.testing.assert_array_equal(table, (steps * 7 + inventory) % actions)
    cfg, env, params = discrete(CJ_SMALL, [0.0, 0.01], "env.obs_mid_lags=2")
    with pytest.raises(ConfigError, match="obs_mid_lags=0"):
        greedy_table(env, params, optimum)


def test_value_is_the_simulated_reward_of_its_policy():
    """Exact for the environment: no discretisation bias, so the mean must sit within the CI itself."""
    cfg, env, params = discrete(CJ_SMALL, [*np.linspace(0.0, GRID_TOP, 7), math.inf], "env.num_steps=100",
                                "env.drift=0.05", "reward.inventory_volatility_penalty=0.3")
    policy = make_baseline("dynamic_programming", cfg, env, params)
    rewards = rollout_rewards(env, params, policy, SIMULATED_EPISODES, seed=3)
    standard_error = rewards.std(ddof=1) / math.sqrt(len(rewards))
    assert abs(rewards.mean() - policy.closed_form_value) < CI_Z * standard_error
    assert_mean_within(rewards, policy.closed_form_value, CLOSED_FORM_RTOL)


def test_act_reads_the_table_at_the_current_step_and_inventory():
    cfg, env, params = discrete(CJ_SMALL, [0.0, 0.01, 0.02, math.inf], "env.num_steps=30")
    policy = make_baseline("dynamic_programming", cfg, env, params)
    _, state = env.reset_env(jax.random.PRNGKey(0), params)
    steps, inventory = np.meshgrid(np.arange(30), np.arange(-3, 4), indexing="ij")
    states = jax.vmap(lambda n, q: state.replace(time=n, inventory=q))(
        jnp.asarray(steps.ravel(), jnp.int32), jnp.asarray(inventory.ravel(), jnp.int32))
    actions = jax.vmap(policy.act, in_axes=(None, None, None, 0, None))(policy.params, None, None, states, params)
    np.testing.assert_array_equal(np.asarray(actions), np.asarray(policy.params.policy).ravel())


def test_refuses_continuous_actions():
    cfg = load_config(CJ_SMALL)
    env, params = make_env(cfg)
    with pytest.raises(ConfigError, match="dynamic_programming.*env.action_type=discrete"):
        make_baseline("dynamic_programming", cfg, env, params)


def test_value_rises_as_the_depth_grid_is_refined():
    """Nested grids at a fixed time step: each finer grid contains the coarser, so can only gain."""
    size = 14
    values = []
    for points in (4, 7, 13):
        _, _, params = discrete(CJ_SMALL, nested_grid(points, size))
        values.append(initial_value(solve(params), params))
    assert values[0] < values[1] < values[2]


def test_approaches_cartea_jaimungal_as_time_and_depth_grids_are_refined():
    """Coarse grids fall short of the continuous-time optimum; refining both grids closes the gap."""
    cj = cj_small_closed_form()
    assert cj_small_dp_value(75, 4) < (1 - CLOSED_FORM_RTOL) * cj
    assert abs(cj_small_dp_value(1200, 49) - cj) < 0.1 * CLOSED_FORM_RTOL * cj


def test_discrete_time_surplus_over_continuous_time_shrinks_with_the_step():
    """With a fine depth grid the discrete problem is worth slightly more than CJP's continuous one
    (quotes held for a step, fill probability A exp(-k d) dt, penalty on the inventory at the step's
    start); the surplus is O(dt), so a 4x smaller step cuts it by well over half."""
    cj = cj_small_closed_form()
    coarse, fine = cj_small_dp_value(300, 49) - cj, cj_small_dp_value(1200, 49) - cj
    assert 0 < fine < coarse / 2


# ------------------------------------------------------------- flatten market order
FLATTEN_GRID = [*np.linspace(0.0, GRID_TOP, 7), math.inf]
FLATTEN_SETUP = ("env.num_steps=100", "env.drift=0.05", "reward.inventory_volatility_penalty=0.3",
                 "reward.terminal_inventory_penalty=0.01")  # a terminal penalty worth paying to avoid
HUGE_MARKET_ORDER_COST = 1e6


def flatten_problem(cost: float, size: int = 2):
    return discrete(CJ_SMALL, FLATTEN_GRID, *FLATTEN_SETUP, "env.flatten_action=true",
                    f"env.market_order_cost={cost}", f"env.flatten_size={size}")


def test_flatten_value_is_the_simulated_reward_of_its_policy():
    cfg, env, params = flatten_problem(cost=0.002)
    policy = make_baseline("dynamic_programming", cfg, env, params)
    table = np.asarray(policy.params.policy)
    assert np.any(table == int(params.flatten_index))  # the market order is part of the optimum
    rewards = rollout_rewards(env, params, policy, SIMULATED_EPISODES, seed=5)
    standard_error = rewards.std(ddof=1) / math.sqrt(len(rewards))
    assert abs(rewards.mean() - policy.closed_form_value) < CI_Z * standard_error
    assert_mean_within(rewards, policy.closed_form_value, CLOSED_FORM_RTOL)


def test_flatten_action_can_only_add_value():
    _, _, without = discrete(CJ_SMALL, FLATTEN_GRID, *FLATTEN_SETUP)
    _, _, with_flatten = flatten_problem(cost=0.002)
    v_without, v_with = np.asarray(solve(without).value), np.asarray(solve(with_flatten).value)
    assert np.all(v_with >= v_without - FLOAT32_RTOL * np.abs(v_without))
    assert initial_value(solve(with_flatten), with_flatten) > initial_value(solve(without), without)


def test_prohibitive_market_order_cost_leaves_the_no_flatten_optimum():
    _, _, without = discrete(CJ_SMALL, FLATTEN_GRID, *FLATTEN_SETUP)
    _, _, costly = flatten_problem(cost=HUGE_MARKET_ORDER_COST)
    solution = solve(costly)
    policy = np.asarray(solution.policy)
    # Only where the inventory is already flat does the order trade nothing (and cost nothing).
    flat = np.arange(policy.shape[1]) == int(costly.max_inventory)
    assert not np.any(policy[:, ~flat] == int(costly.flatten_index))
    np.testing.assert_allclose(np.asarray(solution.value), np.asarray(solve(without).value),
                               rtol=FLOAT32_RTOL, atol=FLOAT32_RTOL)


def test_flatten_on_the_last_step_is_charged_the_terminal_penalty_after_the_trade():
    """One step, no fills possible (the only action is the market order): V_0(q) is exact by hand."""
    cost, size = 0.015, 2
    cfg = load_config(CJ_SMALL, ["env.action_type=discrete", "env.quote_pairs=[[null,null]]", "env.num_steps=1",
                                 "env.flatten_action=true", f"env.market_order_cost={cost}", f"env.flatten_size={size}",
                                 "reward.terminal_inventory_penalty=0.01"])
    _, params = make_env(cfg)
    w = cfg.reward.weights
    q = np.arange(-3, 4)
    traded = -np.sign(q) * np.minimum(np.abs(q), size)
    flatten_value = (-cost * np.abs(traded) - w["running_inventory_penalty"] * q**2 * cfg.env.dt
                     - w["terminal_inventory_penalty"] * (q + traded) ** 2)
    quiet_value = -w["running_inventory_penalty"] * q**2 * cfg.env.dt - w["terminal_inventory_penalty"] * q**2
    assert np.any(flatten_value > quiet_value) and np.any(flatten_value < quiet_value)  # both branches matter
    np.testing.assert_allclose(np.asarray(solve(params).value[0]), np.maximum(flatten_value, quiet_value),
                               rtol=FLOAT32_RTOL, atol=1e-9)
