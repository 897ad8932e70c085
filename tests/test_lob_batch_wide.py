"""The batch-wide book step (``env.layout: batch``) against the vmapped per-book step.

* Every single-event handler applied to a whole batch of books in the levels x batch
  layout equals the per-book handler vmapped, on the random event streams of
  ``test_lob_book.py`` (checked there against the per-order reference).
* The environment's transition, vmapped by the caller, gives identical books, fills,
  rewards, observations and info in both layouts over thousands of steps of random
  actions (episodes reset on the way), on ``configs/lob.yaml`` and on the informed-flow
  book ``configs/lob_informed.yaml``, with latency and jitter, the two books as the
  members of a second ``vmap`` (as in a sweep).
* With parameters vmapped per book (the per-book fallback) the results are the same too.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jaxmm.config import load_config
from jaxmm.envs import make_env
from jaxmm.envs.lob import book as lob
from jaxmm.envs.lob.agent import ACTION_DIM
from jaxmm.envs.lob.layout import BATCH, PER_BOOK
from tests.test_lob_book import (BRANCHES, KEYS, LEVELS, NUM_KINDS, random_streams, run_streams,
                                 with_absolute_shifts)

STREAMS = 200
LENGTH = 48
KIND_WEIGHTS = np.full(NUM_KINDS, 1.0 / NUM_KINDS)
BOOKS = 24  # parallel environments of the transition test
STEPS = 2000  # four episodes of 500 steps
ONE_VMAP_STEPS = 600
CONFIGS = ("configs/lob.yaml", "configs/lob_informed.yaml")
LATENCY_JITTER = ("env.latency_jitter=2",)  # on top of each config's latency of one step


def _record(book, trade):
    return dict(volume=book.volume, active=book.agent_active, price=book.agent_price,
                size=book.agent_size, ahead=book.agent_ahead, rejected=book.rejected,
                added=book.added, cancelled=book.cancelled, traded=book.traded, exited=book.exited,
                origin=book.origin, trade_volume=trade.volume, trade_notional=trade.notional,
                agent_fill=trade.agent_volume)


def _to_batch_minor(tree):
    return jax.tree.map(lambda x: jnp.moveaxis(x, 0, -1), tree)


@jax.jit
def _run_streams_batch_wide(events):
    """Each step runs every handler on the whole batch (levels x batch layout) and keeps,
    per book, the result of the handler its event names."""
    num = events.shape[0]
    empty = jax.tree.map(lambda x: jnp.broadcast_to(x[..., None], x.shape + (num,)),
                         lob.empty_book(LEVELS))

    def step(book, event):  # event: (5, books)
        results = [branch(book, event) for branch in BRANCHES]
        choice = event[0] * 2 + event[1]

        def pick(*leaves):
            out = leaves[0]
            for index, leaf in enumerate(leaves[1:], start=1):
                out = jnp.where(choice == index, leaf, out)
            return out
        book, trade = jax.tree.map(pick, *results)
        return book, _record(book, trade)

    _, records = jax.lax.scan(step, empty, jnp.moveaxis(events, 0, -1))
    return jax.tree.map(lambda x: jnp.moveaxis(x, -1, 0), records)


def test_every_handler_batch_wide_equals_per_book():
    rng = np.random.default_rng(7)
    events, shifts = random_streams(rng, STREAMS, LENGTH, KIND_WEIGHTS)
    events = jnp.asarray(with_absolute_shifts(events, shifts))
    expected = run_streams(events)
    got = _run_streams_batch_wide(events)
    for key in KEYS:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


def _envs(config_path, overrides=()):
    base = ["env.calibrate_quote_model=false", *overrides]
    per_book, params = make_env(load_config(config_path, [*base, f"env.layout={PER_BOOK}"]))
    batch, _ = make_env(load_config(config_path, [*base, f"env.layout={BATCH}"]))
    assert per_book.layout == PER_BOOK and batch.layout == BATCH
    return per_book, batch, params


def _random_actions(key, shape, params):
    """Quotes near and beyond the quoting range (no quote), sizes from 0 up, now and then
    a market order for part or all of the inventory, and a few non-finite entries."""
    k_offset, k_size, k_reduce, k_flat, k_bad = jax.random.split(key, 5)
    top = params.max_quote_offset + 2.0
    offsets = jax.random.uniform(k_offset, shape + (2,), minval=0.0, maxval=top)
    sizes = jax.random.uniform(k_size, shape + (2,), minval=0.0,
                               maxval=params.max_quote_size.astype(jnp.float32) + 1.0)
    reduce = jnp.where(jax.random.uniform(k_flat, shape) < 0.05,
                       jax.random.uniform(k_reduce, shape), 0.0)
    action = jnp.concatenate([offsets, sizes, reduce[..., None]], axis=-1)
    bad = jax.random.uniform(k_bad, shape + (ACTION_DIM,)) < 0.002
    return jnp.where(bad, jnp.inf, action)


def _rollout(env, params, key, books, steps):
    """``steps`` vmapped transitions of ``books`` environments with auto-reset: per step the
    book, observation, reward and info."""
    transition = jax.vmap(env.transition, in_axes=(0, 0, 0, None))
    reset_key, run_key = jax.random.split(key)
    _, initial = jax.vmap(env.reset_env, in_axes=(0, None))(jax.random.split(reset_key, books), params)

    def step(state, step_key):
        noise_key, action_key = jax.random.split(step_key)
        action = _random_actions(action_key, (books,), params)
        obs, state, reward, _, info = transition(env.sample_noise(noise_key, (books,)), state, action,
                                                 params)
        done = state.time >= params.max_steps_in_episode
        state = jax.tree.map(lambda r, s: jnp.where(done.reshape((-1,) + (1,) * (s.ndim - 1)), r, s),
                             initial, state)
        return state, (state.book, obs, reward, info)

    return jax.lax.scan(step, initial, jax.random.split(run_key, steps))


def _assert_trees_equal(got, expected):
    paths, expected_leaves = zip(*jax.tree_util.tree_leaves_with_path(expected))
    for path, a, b in zip(paths, jax.tree.leaves(got), expected_leaves):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=jax.tree_util.keystr(path))


def test_transition_batch_wide_equals_vmapped_per_book():
    """Both books at once: their parameters stacked on a leading axis that a second vmap
    runs over, as a sweep over members does (the configs share their static settings)."""
    envs = [_envs(path, LATENCY_JITTER) for path in CONFIGS]
    per_book, batch = envs[0][0], envs[0][1]
    assert all(env[0] == per_book and env[1] == batch for env in envs)
    stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves), *(env[2] for env in envs))

    @jax.jit
    def both(stacked, key):
        def run(env):
            return jax.vmap(lambda params: _rollout(env, params, key, BOOKS, STEPS))(stacked)
        return run(per_book), run(batch)

    expected, got = both(stacked, jax.random.key(11))
    _assert_trees_equal(got, expected)
    _, (books, _, _, info) = expected
    # The streams did exercise the handlers in both books: fills of both kinds, window moves.
    for member in range(len(CONFIGS)):
        assert float(jnp.sum(info["maker_volume"][member])) > 0
        assert float(jnp.sum(info["taker_volume"][member])) > 0
        assert int(jnp.sum(books.exited[member])) > 0


def test_transition_batch_wide_equals_per_book_under_one_vmap():
    """One book config and one ``vmap`` (no member axis): the batch-wide step decides for the
    whole batch whether any agent market order walks the book this step (``lax.cond``), and
    both ways give the per-book results; the random actions make steps of both kinds."""
    per_book, batch, params = _envs(CONFIGS[0], LATENCY_JITTER)
    key = jax.random.key(12)
    run = jax.jit(lambda env: _rollout(env, params, key, BOOKS, ONE_VMAP_STEPS), static_argnums=0)
    expected, got = run(per_book), run(batch)
    _assert_trees_equal(got, expected)
    _, (_, _, _, info) = expected
    traded = np.asarray(jnp.sum(info["taker_volume"], axis=1))
    assert (traded > 0).any() and (traded == 0).any()


def test_batch_wide_with_per_book_params():
    """Parameters vmapped per book: the batch-wide entry points fall back to the per-book form."""
    per_book, batch, params = _envs(CONFIGS[0])
    books = jax.tree.map(lambda x: jnp.broadcast_to(x, (BOOKS,) + jnp.shape(x)), params)

    def one_step(env):
        _, state = jax.vmap(env.reset_env)(jax.random.split(jax.random.key(4), BOOKS), books)
        actions = _random_actions(jax.random.key(5), (BOOKS,), params)
        noise = env.sample_noise(jax.random.key(6), (BOOKS,))
        return jax.vmap(env.transition)(noise, state, actions, books)

    expected, got = jax.jit(lambda: (one_step(per_book), one_step(batch)))()
    _assert_trees_equal(got, expected)
