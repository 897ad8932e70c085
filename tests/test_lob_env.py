"""The order-book environment: API, dtypes, truncation, latency, registry and configs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmm.config import load_config
from jaxmm.envs import make_env
from jaxmm.envs.base import INFO_KEYS
from jaxmm.envs.lob import book as lob
from jaxmm.envs.lob.config import LOB_REWARD_COMPONENTS

QUOTE = jnp.asarray([1.0, 1.0, 1.0, 1.0, 0.0], jnp.float32)
NO_QUOTE = jnp.asarray([jnp.inf, jnp.inf, 0.0, 0.0, 0.0], jnp.float32)
FAST = ["env.name=lob", "env.num_steps=20", "env.warmup_steps=100"]


def build(*overrides):
    return make_env(load_config(None, [*FAST, *overrides]))


def rollout(env, params, actions, seed=0):
    """Step with env.step (auto-reset included); returns per-step outputs as numpy arrays."""
    step = jax.jit(env.step)
    key, reset_key = jax.random.split(jax.random.key(seed))
    obs, state = env.reset(reset_key, params)
    out = []
    for action in actions:
        key, sub = jax.random.split(key)
        obs, state, reward, terminated, truncated, info = step(sub, state, action, params)
        out.append(dict(obs=obs, state=state, reward=reward, terminated=terminated,
                        truncated=truncated, info=info))
    return out


def test_state_obs_and_info_dtypes_are_stable_under_jit_and_vmap():
    env, params = build()
    obs, state = env.reset(jax.random.key(0), params)
    dtypes = jax.tree.map(lambda x: x.dtype, state)
    noise = env.sample_noise(jax.random.key(1), (4,))
    states = jax.tree.map(lambda x: jnp.broadcast_to(x, (4,) + x.shape), state)
    transition = jax.jit(jax.vmap(env.transition, in_axes=(0, 0, None, None)))
    obs2, states2, reward, terminated, info = transition(noise, states, QUOTE, params)
    assert jax.tree.map(lambda x: x.dtype, states2) == jax.tree.map(lambda x: x.dtype, states)
    assert dtypes == jax.tree.map(lambda x: x.dtype, jax.tree.map(lambda x: x[0], states2))
    assert obs.dtype == obs2.dtype == jnp.float32
    assert obs2.shape == (4,) + env.observation_space(params).shape
    assert reward.dtype == jnp.float32 and reward.shape == (4,)


def test_info_has_common_keys_and_float32_scalars():
    env, params = build()
    out = rollout(env, params, [QUOTE] * 3)
    info = out[-1]["info"]
    for key in INFO_KEYS:
        assert key in info
    assert info["reward_components"].shape == (len(LOB_REWARD_COMPONENTS),)
    for key, value in info.items():
        if key in ("reward_components", "final_observation"):
            continue
        assert value.shape == () and value.dtype in (jnp.float32, jnp.bool_), key


def test_reward_is_weights_dot_components():
    env, params = build("reward.inventory_penalty=0.5", "reward.order_management=0.01",
                        "reward.adverse_selection=2.0")
    for step in rollout(env, params, [QUOTE] * 10):
        expected = float(jnp.dot(params.reward_weights, step["info"]["reward_components"]))
        assert float(step["reward"]) == pytest.approx(expected, rel=1e-5, abs=1e-7)


def test_pnl_is_spread_capture_plus_inventory_revaluation():
    env, params = build("env.market_rate=1.0", "env.num_steps=60")
    flatten_often = [QUOTE] * 7 + [jnp.asarray([1.0, 1.0, 1.0, 1.0, 1.0], jnp.float32)]
    out = rollout(env, params, flatten_often * 5, seed=2)
    names = list(LOB_REWARD_COMPONENTS)
    pnl, capture = names.index("pnl"), names.index("spread_capture")
    previous_mid = float(env.reset(jax.random.split(jax.random.key(2))[1], params)[1].mid)
    captured = 0.0
    for step in out:
        c = np.asarray(step["info"]["reward_components"], np.float64)
        mid, q = float(step["state"].mid), int(step["state"].inventory)
        revaluation = 0.01 * q * (mid - previous_mid)
        assert c[pnl] == pytest.approx(c[capture] + revaluation, abs=1e-6)
        captured += abs(c[capture])
        previous_mid = mid
    assert captured > 0 and float(sum(s["info"]["taker_volume"] for s in out)) > 0  # fills of both kinds


def test_episode_truncates_at_the_horizon_and_never_terminates():
    env, params = build()
    out = rollout(env, params, [QUOTE] * 25)
    truncated = [bool(s["truncated"]) for s in out]
    assert truncated == [t == 19 for t in range(25)]
    assert not any(bool(s["terminated"]) for s in out)
    assert int(out[19]["state"].time) == 0  # auto-reset
    assert int(out[20]["state"].time) == 1


def test_reset_copies_the_precomputed_initial_book():
    env, params = build()
    _, state = env.reset(jax.random.key(3), params)
    np.testing.assert_array_equal(state.book.volume, params.initial_book.volume)
    assert int(jnp.sum(params.initial_book.volume[lob.BID])) > 0
    assert int(jnp.sum(params.initial_book.volume[lob.ASK])) > 0


@pytest.mark.parametrize("latency", [0, 1, 3])
def test_quotes_take_effect_after_the_latency(latency):
    env, params = build(f"env.latency={latency}")
    out = rollout(env, params, [QUOTE] * 6)
    quoted = [float(s["info"]["bid_quoted"]) for s in out]
    assert quoted == [float(t >= latency) for t in range(6)]
    # Withdrawing is delayed the same way.
    out = rollout(env, params, [QUOTE] * 5 + [NO_QUOTE] * 6)
    quoted = [float(s["info"]["ask_quoted"]) for s in out]
    assert quoted[5 + latency - 1] == 1.0 or latency == 0
    assert quoted[5 + latency] == 0.0


def test_known_inventory_lags_the_true_inventory_by_the_latency():
    env, params = build("env.latency=2", "env.market_rate=1.0", "env.num_steps=60")
    quote_at_touch = jnp.asarray([0.0, 0.0, 5.0, 5.0, 0.0], jnp.float32)
    out = rollout(env, params, [quote_at_touch] * 40, seed=4)
    inventories = [int(s["state"].inventory) for s in out]
    assert len(set(inventories)) > 1  # the test is meaningful: fills happened
    for t in range(2, 40):
        _, known = env.policy_inputs(out[t]["state"], params)
        assert int(known) == inventories[t - 2]


def test_discrete_actions_and_depths_to_action():
    env, params = build("env.action_type=discrete", "env.offset_grid=[0.5,1.5,.inf]")
    assert env.num_actions == 9 + 1  # pairs (one of them no-quote) + flatten
    idx = env.depths_to_action(jnp.float32(1.5 * 0.01), jnp.float32(0.5 * 0.01), params)
    np.testing.assert_allclose(params.action_table[idx, :2], [1.5, 0.5])
    idx = env.depths_to_action(jnp.float32(jnp.inf), jnp.float32(jnp.inf), params)
    assert float(params.action_table[idx, 4]) == 0.0  # the no-quote row, not the flatten row
    out = rollout(env, params, [jnp.int32(0)] * 3)
    assert float(out[-1]["info"]["bid_quoted"]) == 1.0
    assert float(params.action_table[-1, 4]) == 1.0  # the last row flattens


def test_flatten_row_is_optional():
    env, params = build("env.action_type=discrete", "env.offset_grid=[0.5,1.5,.inf]", "env.flatten_action=false")
    assert env.num_actions == 9
    assert not np.any(np.asarray(params.action_table[:, 4]))  # no row sends a market order


def test_inventory_relative_rows_quote_the_reducing_side_first():
    from jaxmm.envs.lob.agent import orient
    row = jnp.asarray([0.5, jnp.inf, 1.0, 1.0, 0.0], jnp.float32)  # (reducing side, adding side)
    np.testing.assert_array_equal(orient(row, jnp.int32(3))[:2], [jnp.inf, 0.5])  # long: ask only
    np.testing.assert_array_equal(orient(row, jnp.int32(-2))[:2], [0.5, jnp.inf])  # short: bid only
    np.testing.assert_array_equal(orient(row, jnp.int32(0))[:2], [jnp.inf, jnp.inf])  # flat: both adding
    env, params = build("env.action_type=discrete", "env.offset_grid=[0.5,1.5,.inf]",
                        "env.quote_sides=inventory")
    tick = 0.01
    for q, bid, ask, want in [(2, 1.5, 0.5, (0.5, 1.5)), (-1, 0.5, jnp.inf, (0.5, jnp.inf)),
                              (0, 0.5, 0.5, (0.5, 0.5))]:
        idx = env.depths_to_action(jnp.float32(bid * tick), jnp.float32(ask * tick), params, jnp.int32(q))
        np.testing.assert_allclose(params.action_table[idx, :2], want)
    # In the book: a long agent with the row (0.5, .inf) has an ask and no bid.
    _, state = env.reset(jax.random.key(0), params)
    state = state.replace(inventory=jnp.int32(3), inventory_history=jnp.full_like(state.inventory_history, 3))
    reduce_only = int(np.flatnonzero((np.asarray(params.action_table[:, 0]) == 0.5)
                                     & np.isinf(np.asarray(params.action_table[:, 1])))[0])
    _, state, *_ = jax.jit(env.step)(jax.random.key(1), state, jnp.int32(reduce_only), params)
    assert bool(state.book.agent_active[lob.ASK]) and not bool(state.book.agent_active[lob.BID])


def test_continuous_depths_to_action_converts_price_to_ticks():
    env, params = build()
    action = env.depths_to_action(jnp.float32(0.02), jnp.float32(0.03), params)
    np.testing.assert_allclose(action, [2.0, 3.0, 1.0, 1.0, 0.0], rtol=1e-6)
    remaining, inventory = env.policy_inputs(env.reset(jax.random.key(0), params)[1], params)
    assert float(remaining) == pytest.approx(1.0) and int(inventory) == 0
    model = env.quote_model(params)
    assert all(float(x) > 0 for x in (model.volatility, model.arrival_rate, model.fill_decay))


def test_overflow_is_counted_not_overwritten():
    env, params = build("env.level_capacity=12", "env.max_quote_size=5", "env.quote_size=1")
    out = rollout(env, params, [QUOTE] * 20)
    assert sum(float(s["info"]["overflow_events"]) for s in out) > 0
    assert int(jnp.max(out[-1]["state"].book.volume)) <= 12


def test_inventory_limit_is_never_exceeded():
    env, params = build("env.max_inventory=2", "env.market_rate=1.0", "env.informed_share=0.5",
                        "env.num_steps=100")
    big = jnp.asarray([0.0, 0.0, 10.0, 10.0, 0.0], jnp.float32)
    out = rollout(env, params, [big] * 100, seed=1)
    assert max(abs(int(s["state"].inventory)) for s in out) <= 2
    assert max(abs(int(s["state"].inventory)) for s in out) == 2  # the limit was reached


@pytest.mark.parametrize("path", ["configs/lob.yaml", "configs/lob_informed.yaml", "configs/ppo_lob.yaml",
                                  "configs/dqn_lob.yaml"])
def test_shipped_configs_build(path):
    config = load_config(path, ["env.warmup_steps=50"])
    env, params = make_env(config)
    assert env.name == "lob" and env.visible_levels >= 10


def test_quote_model_fit_does_not_depend_on_the_action_format():
    """The learner configs (discrete, inventory-relative rows) fit the same quote model as
    the continuous config of the same book: the fit quotes fixed depths from the mid."""
    continuous = load_config("configs/lob.yaml", ["env.warmup_steps=50", "env.calibrate_quote_model=true"])
    discrete = continuous.replace(["env.action_type=discrete", "env.quote_sides=inventory",
                                   "env.quote_reference=touch"])
    from jaxmm.envs.lob import build
    fits = []
    for config in (discrete, continuous):
        build._QUOTE_MODEL_FITS.clear()  # fit each from scratch, not from the per-book cache
        fits.append(make_env(config)[1])
    for name in ("qm_volatility", "qm_arrival_rate", "qm_fill_decay"):
        a, b = (float(getattr(p, name)) for p in fits)
        assert a == b, name
    uncalibrated = make_env(continuous.replace(["env.calibrate_quote_model=false"]))[1]
    assert float(fits[0].qm_fill_decay) != float(uncalibrated.qm_fill_decay)


def test_fill_rate_fit_recovers_an_exponential_curve():
    from jaxmm.envs.lob.calibration import fit_fill_rates
    depths = np.array([0.005, 0.015, 0.025, 0.035])
    rates = 40.0 * np.exp(-120.0 * depths)
    rates[-1] = 0.0  # depths without fills are left out of the fit
    arrival, decay = fit_fill_rates(depths, rates)
    assert arrival == pytest.approx(40.0, rel=1e-6) and decay == pytest.approx(120.0, rel=1e-6)


def test_autocorrelation_of_a_persistent_series_is_positive_and_of_noise_small():
    from jaxmm.stylized_facts import autocorrelation
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(2000, 4))
    persistent = np.cumsum(noise, axis=0)
    assert autocorrelation(persistent, 3)[0] > 0.9
    assert abs(autocorrelation(noise, 3)[0]) < 0.1
