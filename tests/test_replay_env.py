"""The replay environment: the simulator's own recorded stream replays to the simulator's fills;
LOBSTER queue positions, L2 queue models, episode starts, and evaluate on replay."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmm.cli import EXIT_INPUT_ERROR, main
from jaxmm.config import load_config
from jaxmm.data.events import ASK, BID, EventKind, EventStream, event_rows
from jaxmm.data.recorder import compact, record_transition
from jaxmm.envs import make_env
from jaxmm.envs.lob import book as lob
from jaxmm.envs.replay.book import QUEUE_CONSERVATIVE, QUEUE_PROBABILISTIC, apply_events, window_book
from jaxmm.envs.replay.agent_step import deliver_message
from jaxmm.envs.replay.config import ReplayEnvConfig
from jaxmm.envs.replay.env import replay_env, replay_params
from jaxmm.policies import resolve_policy

SIM_STEPS = 1000
MIN_FILLS = 20
SIM_OVERRIDES = ["env.num_steps=1000", "env.calibrate_quote_model=false", "policy.inventory_cap=2"]
REPLAY_STEPS = "env.num_steps=50"  # one episode length for every replay test: one set of compiled programs
BOOK_BASELINES = ("fixed_spread", "inventory_capped", "avellaneda_stoikov", "symmetric", "glft")
MODEL_ONLY_BASELINES = ("cartea_jaimungal", "dynamic_programming")
LEVELS = 16
LATER_STEPS = 40
CAPACITY = jnp.int32(1000)
FLOAT32_RTOL, FLOAT32_ATOL = 1e-5, 1e-7  # a few float32 ulps, compounded over an EWMA


def rollout(env, params, policy, state, obs, steps, noise_key, record):
    """``steps`` steps of ``policy``; per step: obs, fills, inventory, reward (and the recorded rows)."""
    def step(carry, key):
        obs, state = carry
        action = policy.act(policy.params, key, obs, state, params)
        noise = env.sample_noise(key)
        if record:
            obs, state, reward, _, info, rows, _, book = record_transition(env, noise, state, action, params)
            same_book = jnp.all(book.volume == state.book.volume) & (book.origin == state.book.origin)
        else:
            obs, state, reward, _, info = env.transition(noise, state, action, params)
            rows, same_book = jnp.zeros((0, 5), jnp.int32), jnp.array(True)
        out = dict(obs=obs, bid_fill=info["bid_fill"], ask_fill=info["ask_fill"], inventory=state.inventory,
                   reward=reward, components=info["reward_components"], rows=rows, same_book=same_book,
                   queue=info["queue_position_at_fill"])
        return (obs, state), out

    keys = jax.random.split(noise_key, steps)
    return jax.jit(lambda c, k: jax.lax.scan(step, c, k))((obs, state), keys)[1]


def test_the_simulators_own_stream_replays_to_the_simulators_fills():
    config = load_config("configs/ppo_lob.yaml", SIM_OVERRIDES)
    sim_env, sim_params = make_env(config)
    policy = resolve_policy("inventory_capped", config, sim_env, sim_params)
    obs, state = sim_env.reset_env(jax.random.key(0), sim_params)
    sim = jax.tree.map(np.asarray, rollout(sim_env, sim_params, policy, state, obs, SIM_STEPS,
                                            jax.random.key(1), record=True))
    assert sim["same_book"].all()  # the recorded rows lead to the simulator's book, step by step
    rows = sim["rows"]
    step_of_row = np.repeat(np.arange(SIM_STEPS), rows.shape[1])
    events, _, step_start = compact(rows, np.zeros(rows.shape[:2], bool), step_of_row, SIM_STEPS)
    stream = EventStream(events=events, step_start=step_start,
                         start_volume=np.asarray(state.book.volume)[None],
                         start_origin=np.asarray(state.book.origin)[None], start_mid=np.asarray(state.mid)[None],
                         tick=config.env.tick_size)
    replay_cfg = ReplayEnvConfig(data="<simulator>", half_width=config.env.half_width,
                                 level_capacity=config.env.level_capacity,
                                 **{name: getattr(config.env, name) for name in (
                                     "visible_levels", "num_steps", "action_type", "offset_grid", "quote_sides",
                                     "flatten_action", "quote_size", "max_inventory", "latency", "maker_rebate",
                                     "taker_fee")})
    env = replay_env(replay_cfg, config.env.tick_size, market_impact=True, queue_model=QUEUE_CONSERVATIVE,
                     queue_power=2.0, takes=True)
    quote_model = (sim_params.qm_volatility, sim_params.qm_arrival_rate, sim_params.qm_fill_decay)
    params = replay_params(stream, replay_cfg, sim_params.reward_weights, np.asarray([0]), quote_model)
    assert env.observation_space().shape == sim_env.observation_space().shape
    assert env.action_space().n == sim_env.action_space().n
    obs, state = env.reset_at(0, params)
    np.testing.assert_array_equal(obs, sim_env.reset_env(jax.random.key(0), sim_params)[0])
    replay = jax.tree.map(np.asarray, rollout(env, params, policy, state, obs, SIM_STEPS, jax.random.key(1),
                                               record=False))
    for name in ("bid_fill", "ask_fill", "inventory", "queue"):  # integers: bit for bit
        np.testing.assert_array_equal(replay[name], sim[name], err_msg=name)
    for name in ("obs", "reward", "components"):
        # Floats from two separately compiled programs: XLA may contract ``a * b + c`` into one fused
        # multiply-add in one and not the other (jax 0.11 does, for the EWMA features), so they agree
        # to float32 rounding, not bit for bit.
        np.testing.assert_allclose(replay[name], sim[name], rtol=FLOAT32_RTOL, atol=FLOAT32_ATOL, err_msg=name)
    assert sim["bid_fill"].sum() >= MIN_FILLS and sim["ask_fill"].sum() >= MIN_FILLS, \
        (sim["bid_fill"].sum(), sim["ask_fill"].sum())  # the agent traded, from varied queue positions
    assert len(np.unique(sim["queue"][sim["queue"] > 0])) > 3


def book_with_agent(volume_at, side, price, ahead_volume, size=2):
    """A book with ``ahead_volume`` resting at ``price`` on ``side``, the agent's order behind it."""
    volume = np.zeros((2, LEVELS), np.int32)
    volume[side, price] = ahead_volume
    for (s, p), v in volume_at.items():
        volume[s, p] = v
    book = window_book(jnp.asarray(volume), 0)
    book, accepted = lob.agent_post(book, side, jnp.int32(price), jnp.int32(size), CAPACITY)
    assert bool(accepted) and int(book.agent_ahead[side]) == ahead_volume
    return book


def run(book, rows, queue_model=QUEUE_CONSERVATIVE, power=2.0):
    events = jnp.asarray(event_rows(*np.asarray(rows).T))
    return apply_events(book, events, 0, events.shape[0], queue_model, power)


def test_lobster_cancels_ahead_move_the_agent_and_executions_past_it_fill_it():
    book = book_with_agent({(ASK, 9): 10}, BID, 6, ahead_volume=5)
    book, out = run(book, [(EventKind.REMOVE, BID, 6, 1, 0),   # ahead: moves up
                           (EventKind.ADD, BID, 6, 4, 0),      # joins behind the agent
                           (EventKind.REMOVE, BID, 6, 3, 4),   # behind (offset 4 of 4 + 4): stays
                           (EventKind.EXECUTE, BID, 6, 3, 0)])  # 3 of the 4 ahead trade
    assert int(book.agent_ahead[BID]) == 1 and int(out.agent_volume[BID]) == 0
    book, out = run(book, [(EventKind.EXECUTE, BID, 6, 2, 0)])  # the last one ahead, then 1 past the agent
    assert int(out.agent_volume[BID]) == 1 and int(book.agent_size[BID]) == 1
    assert int(book.volume[BID, 6]) == 0  # without market impact the recorded volume leaves all the same
    assert int(out.market_volume[ASK]) == 3  # a seller traded 2 recorded units and 1 with the agent


def test_a_recorded_trade_at_a_worse_price_or_a_crossing_order_fills_a_better_quote():
    book = book_with_agent({(BID, 4): 10, (ASK, 10): 10}, ASK, 8, ahead_volume=0)
    book, out = run(book, [(EventKind.EXECUTE, ASK, 10, 1, 0)])  # a buyer reached 10, past the agent's 8
    assert int(out.agent_volume[ASK]) == 1 and int(out.agent_notional[ASK]) == 8
    book, out = run(book, [(EventKind.ADD, BID, 9, 5, 0)])  # a bid at 9 would have crossed the ask at 8
    assert int(out.agent_volume[ASK]) == 1 and not bool(book.agent_active[ASK])
    assert int(book.volume[BID, 9]) == 5


@pytest.mark.parametrize("queue_model, aheads, fill", [
    # Cancellations are assumed behind the agent; it moves up only when its level shrinks below it.
    (QUEUE_CONSERVATIVE, (6, 2), 1),
    # front 6, back 3: P(behind) = 9 / (9 + 36) = 0.2, so round(0.8 * 3) = 2 of the 3 were ahead;
    # then front 4, back 2: 0.2 again, round(0.8 * 4) = 3 of the 4.
    (QUEUE_PROBABILISTIC, (4, 1), 2),
])
def test_l2_cancellations_move_the_agent_by_the_queue_model(queue_model, aheads, fill):
    book = book_with_agent({}, BID, 6, ahead_volume=6)
    book, _ = run(book, [(EventKind.ADD, BID, 6, 3, 0)], queue_model)  # behind the agent
    book, _ = run(book, [(EventKind.CANCEL_L2, BID, 6, 3, 0)], queue_model)
    assert int(book.agent_ahead[BID]) == aheads[0] and int(book.volume[BID, 6]) == 6
    book, _ = run(book, [(EventKind.CANCEL_L2, BID, 6, 4, 0)], queue_model)
    assert int(book.agent_ahead[BID]) == aheads[1] and int(book.volume[BID, 6]) == 2
    # Traded volume is ahead of the agent first; what trades past it fills it.
    book, out = run(book, [(EventKind.EXECUTE, BID, 6, 3, 0)], queue_model)
    assert int(out.agent_volume[BID]) == fill


def test_the_agents_market_order_walks_the_recorded_book_without_or_with_impact():
    config = load_config("configs/replay.yaml", ["env.action_type=continuous", "env.quote_sides=bid_ask",
                                                 REPLAY_STEPS, "env.latency=0"])
    env, params = make_env(config)
    _, state = env.reset_at(0, params)
    short = 30
    state = state.replace(inventory=jnp.int32(-short))  # short: the market order buys it back
    action = jnp.asarray([jnp.inf, jnp.inf, 0.0, 0.0, 1.0], jnp.float32)  # no quotes, flatten
    taken, trade = lob.agent_take(state.book, BID, jnp.int32(short))
    assert int(trade.volume) == short
    for impact in (False, True):
        deliver = jax.jit(lambda s: deliver_message(env, jnp.float32(0.5), s, action, params, params.level_capacity,
                                                    impact))
        book, mine, _, _ = deliver(state)
        assert int(mine.taker_signed) == short and int(mine.taker_notional) == int(trade.notional)
        # No impact: the recorded book stays as recorded; impact: the order consumed what it took.
        np.testing.assert_array_equal(book.volume, (taken if impact else state.book).volume)
    assert int(jnp.sum(taken.volume)) == int(jnp.sum(state.book.volume)) - short


def test_an_episode_started_later_sees_the_book_an_earlier_one_replayed_to():
    config = load_config("configs/replay.yaml", [REPLAY_STEPS])
    env, params = make_env(config)
    starts = np.asarray(params.starts)
    later = int(np.flatnonzero(starts == starts[0] + LATER_STEPS)[0])
    _, state = env.reset_at(0, params)
    no_quotes = jnp.asarray(env.num_actions - 1)  # the (.inf, .inf) row: never in the book

    def step(state, key):
        _, state, *_ = env.transition(env.sample_noise(key), state, no_quotes, params)
        return state, None

    state, _ = jax.lax.scan(step, state, jax.random.split(jax.random.key(0), LATER_STEPS))
    _, fresh = env.reset_at(later, params)
    np.testing.assert_array_equal(state.book.volume, fresh.book.volume)
    assert int(state.book.origin) == int(fresh.book.origin) and int(state.cursor) == int(fresh.cursor)
    assert float(state.mid) == float(fresh.mid)


def test_every_book_baseline_quotes_on_replay():
    config = load_config("configs/replay.yaml", [REPLAY_STEPS])
    env, params = make_env(config)
    obs, state = env.reset_at(0, params)
    assert float(params.qm_fill_decay) > 0 and float(params.qm_volatility) > 0  # fitted to the data
    for baseline in BOOK_BASELINES:
        policy = resolve_policy(baseline, config, env, params)
        action = policy.act(policy.params, jax.random.key(0), obs, state, params)
        assert env.action_space(params).contains(action), baseline


def test_evaluate_runs_on_replay(tmp_path):
    out = tmp_path / "result.json"
    code = main(["evaluate", "--config", "configs/replay.yaml", "--episodes", "8", "--out", str(out),
                 REPLAY_STEPS])
    assert code == 0 and out.is_file()


@pytest.mark.slow  # test_every_book_baseline_quotes_on_replay and test_evaluate_runs_on_replay cover it faster
@pytest.mark.parametrize("baseline", BOOK_BASELINES)
def test_evaluate_runs_every_book_baseline_on_replay(baseline, tmp_path):
    out = tmp_path / "result.json"
    code = main(["evaluate", "--config", "configs/replay.yaml", "--policy", baseline, "--episodes", "8",
                 "--out", str(out), REPLAY_STEPS])
    assert code == 0 and out.is_file()


@pytest.mark.parametrize("baseline", MODEL_ONLY_BASELINES)
def test_model_only_baselines_are_one_line_errors_on_replay_as_on_the_book(baseline, capsys):
    assert main(["evaluate", "--config", "configs/replay.yaml", "--policy", baseline, "--episodes", "8",
                 REPLAY_STEPS]) == EXIT_INPUT_ERROR
    assert capsys.readouterr().err.count("\n") == 1


def test_a_replay_config_with_too_short_a_window_is_one_line(capsys):
    assert main(["evaluate", "--config", "configs/replay.yaml", "--episodes", "8", "env.window=1:100"]) \
        == EXIT_INPUT_ERROR
    assert "fewer than env.num_steps=500" in capsys.readouterr().err


def test_replay_settings_are_checked_like_the_books(tmp_path):
    with pytest.raises(Exception, match="env.max_quote_offset"):
        load_config("configs/replay.yaml", ["env.max_quote_offset=100"])
    assert dataclasses.replace(ReplayEnvConfig(), half_width=14).lob_view(0.01).num_levels == 28


def test_a_policy_learned_on_the_book_acts_on_replay():
    """What ``evaluate --policy checkpoint:RUN`` needs: the spaces check passes and the learned
    policy's act takes the replay's observations."""
    from pathlib import Path

    from jaxmm.agents import make_learner
    from jaxmm.checkpoint import check_same_spaces

    book_config = load_config("configs/ppo_lob.yaml", [*SIM_OVERRIDES, "ppo.hidden_sizes=[16]"])
    book_env, book_params = make_env(book_config)
    replay, replay_params_ = make_env(load_config("configs/replay.yaml", [REPLAY_STEPS]))
    check_same_spaces(Path("run"), book_env, replay)
    learner = make_learner(book_config, book_env)
    state = learner.init(jax.random.key(0), book_params, learner.hyper(book_config))
    policy = learner.policy(state)
    obs, env_state = replay.reset_at(0, replay_params_)
    action = policy.act(policy.params, jax.random.key(1), obs, env_state, replay_params_)
    assert replay.action_space(replay_params_).contains(action)


@pytest.mark.slow  # test_a_policy_learned_on_the_book_acts_on_replay covers the same seams without training
def test_a_trained_checkpoint_evaluates_on_replay(tmp_path):
    from jaxmm import training

    run = tmp_path / "run"
    training.main(["--config", "configs/ppo_lob.yaml", "--run-dir", str(run), "--no-progress",
                   "train.total_env_steps=512", "train.chunk_env_steps=512", "train.eval_episodes=0",
                   "train.baselines=[]", "ppo.num_envs=16", "ppo.rollout_len=32", "ppo.num_minibatches=2",
                   "ppo.num_epochs=1", "ppo.hidden_sizes=[16]", "env.num_steps=20", "env.warmup_steps=50",
                   "env.calibrate_quote_model=false"])
    out = tmp_path / "replay.json"
    assert main(["evaluate", "--config", "configs/replay.yaml", "--policy", f"checkpoint:{run}", "--episodes", "8",
                 "--out", str(out), REPLAY_STEPS]) == 0
    assert out.is_file()


def test_l2_and_lobster_replays_of_one_market_start_from_the_same_books():
    lobster_env, lobster_params = make_env(load_config("configs/replay.yaml"))
    l2_env, l2_params = make_env(load_config("configs/replay_l2.yaml"))
    for name in ("starts", "start_volume", "start_origin", "start_mid", "tick_size"):
        np.testing.assert_array_equal(getattr(l2_params, name), getattr(lobster_params, name), err_msg=name)
    assert l2_env.queue_model == QUEUE_PROBABILISTIC and lobster_env.observation_space().shape == \
        l2_env.observation_space().shape
    # Only the cancellations differ: queue offsets (LOBSTER) against CANCEL_L2 rows (L2).
    kinds = {int(k) for k in np.unique(np.asarray(l2_params.events)[:, 0])}
    assert EventKind.CANCEL_L2 in kinds and EventKind.REMOVE not in kinds


def test_fills_at_real_price_levels_are_exact():
    """LOBSTER prices near 5,850,000 (dollars x 10,000) stay ticks from a price origin on the device, so
    int32 ticks x units (a notional) cannot wrap; the dollars paid equal the recorded prices' sum."""
    from jaxmm.envs.replay.env import load_replay_stream

    config = load_config("configs/replay.yaml", ["env.action_type=continuous", "env.quote_sides=bid_ask",
                                                 REPLAY_STEPS, "env.latency=0"])
    stream = load_replay_stream(config.env)
    assert stream.price_origin > 5_000_000 and np.abs(stream.events[:, 2]).max() < 1_000
    env, params = make_env(config)
    _, state = env.reset_at(0, params)
    short = 30
    state = state.replace(inventory=jnp.int32(-short))
    action = jnp.asarray([jnp.inf, jnp.inf, 0.0, 0.0, 1.0], jnp.float32)
    _, after, *_ = jax.jit(env.transition)(env.sample_noise(jax.random.key(0)), state, action, params)
    # The recorded asks the order walked, in LOBSTER's integer prices, summed in int64 on the host.
    volume, origin = np.asarray(state.book.volume[ASK]), int(state.book.origin)
    left, paid = short, 0
    for index in np.flatnonzero(volume):
        units = min(left, int(volume[index]))
        paid += units * int(stream.price_origin + stream.tick * (origin + index))
        left -= units
    # The device's cash is minus the notional in ticks from the origin: exact, in LOBSTER units too.
    assert left == 0 and short * stream.price_origin - stream.tick * float(after.cash) == paid
