"""The batched book operations of the flow's hot path against the single-event handlers
(themselves checked against the per-order reference in test_lob_book.py): on random
books, each batch must leave exactly the book that applying its events one by one does."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxmm.envs.lob import book as lob
from jaxmm.envs.lob.agent import market_order_per_side
from tests.test_lob_book import CAPACITY, LEVELS, _apply, random_streams, with_absolute_shifts

BOOKS = 400
HISTORY = 32  # random events that build each book
SLOTS = 3
# Mostly posts, so that levels fill up and the agent's orders have volume ahead of them.
DEEP = np.array([0.6, 0.05, 0.03, 0.03, 0.2, 0.03, 0.03, 0.03])
CAP = jnp.int32(CAPACITY)


def random_books(seed):
    """Books in varied states (agent orders, full and empty levels, moved windows)."""
    rng = np.random.default_rng(seed)
    events, shifts = random_streams(rng, BOOKS, HISTORY, DEEP)
    events = jnp.asarray(with_absolute_shifts(events, shifts))

    def build(stream):
        book, _ = jax.lax.scan(_apply, lob.empty_book(LEVELS), stream)
        return book
    return jax.jit(jax.vmap(build))(events), rng


def assert_books_equal(got, expected):
    for name in ("origin", "volume", "agent_active", "agent_size", "added", "cancelled", "traded",
                 "exited", "rejected"):
        np.testing.assert_array_equal(getattr(got, name), getattr(expected, name), err_msg=name)
    active = np.asarray(expected.agent_active)
    for name in ("agent_price", "agent_ahead"):  # meaningless for an inactive order
        np.testing.assert_array_equal(np.where(active, getattr(got, name), 0),
                                      np.where(active, getattr(expected, name), 0), err_msg=name)


def slot_arrays(rng, origins, low, high):
    """Per book, SLOTS random prices around its window, sizes (0: inactive) and offsets."""
    prices = np.asarray(origins)[:, None] + rng.integers(low, high, size=(BOOKS, SLOTS))
    sizes = rng.integers(0, CAPACITY // 2, size=(BOOKS, SLOTS))
    offsets = rng.integers(-1, CAPACITY + 1, size=(BOOKS, SLOTS))
    return [jnp.asarray(a, jnp.int32) for a in (prices, sizes, offsets)]


def test_post_batch_equals_posts_in_order():
    for seed, side in [(0, lob.BID), (1, lob.ASK), (2, lob.BID)]:
        books, rng = random_books(seed)
        # Prices in a narrow band so that posts often share a level and fill it.
        prices, sizes, _ = slot_arrays(rng, books.origin, -1, 4)

        def sequential(book, prices, sizes):
            for j in range(SLOTS):
                book = lob.post(book, side, prices[j], sizes[j], CAP)
            return book
        expected = jax.jit(jax.vmap(sequential))(books, prices, sizes)
        got = jax.jit(jax.vmap(lambda b, p, s: lob.post_batch(b, side, p, s, CAP)))(books, prices, sizes)
        assert_books_equal(got, expected)
        assert int(jnp.sum(got.rejected - books.rejected)) > 0  # capacity and crossing were exercised
        assert int(jnp.sum(got.added - books.added)) > 0


def test_cancel_batch_equals_cancels_in_order():
    for seed, side in [(3, lob.BID), (4, lob.ASK)]:
        books, rng = random_books(seed)
        prices, sizes, offsets = slot_arrays(rng, books.origin, -1, LEVELS + 1)
        # Half the books cancel three times at one level, the agent's where it has an order.
        same = rng.random(BOOKS) < 0.5
        level = np.where(np.asarray(books.agent_active[:, side]), np.asarray(books.agent_price[:, side]),
                         np.asarray(prices[:, 0]))
        prices = jnp.where(jnp.asarray(same)[:, None], jnp.asarray(level, jnp.int32)[:, None], prices)

        def sequential(book, prices, sizes, offsets):
            for j in range(SLOTS):
                book = lob.cancel(book, side, prices[j], sizes[j], offsets[j])
            return book
        expected = jax.jit(jax.vmap(sequential))(books, prices, sizes, offsets)
        got = jax.jit(jax.vmap(lambda b, p, s, o: lob.cancel_batch(b, side, p, s, o)))(
            books, prices, sizes, offsets)
        assert_books_equal(got, expected)
        moved = np.asarray(expected.agent_ahead != books.agent_ahead)[:, side]
        assert moved.sum() > 0  # cancellations ahead of the agent were exercised


def test_take_then_sweep_equals_market_order_then_ioc_order():
    for seed, side in [(5, lob.BID), (6, lob.ASK)]:
        books, rng = random_books(seed)
        market = jnp.asarray(rng.integers(0, 2 * CAPACITY, size=BOOKS), jnp.int32)
        ioc = jnp.asarray(rng.integers(0, 2 * CAPACITY, size=BOOKS), jnp.int32)
        limit = jnp.asarray(np.asarray(books.origin) + rng.integers(-1, LEVELS + 1, size=BOOKS), jnp.int32)

        def sequential(book, market, ioc, limit):
            book, first = lob.take(book, side, market, lob.window_edge(book, side))
            book, second = lob.take(book, side, ioc, limit)
            return book, first, second

        def batched(book, market, ioc, limit):
            return lob.take_then_sweep(book, side, market, ioc, limit)
        expected, first, second = jax.jit(jax.vmap(sequential))(books, market, ioc, limit)
        got, trade, ioc_traded = jax.jit(jax.vmap(batched))(books, market, ioc, limit)
        assert_books_equal(got, expected)
        np.testing.assert_array_equal(trade.volume, first.volume + second.volume)
        np.testing.assert_array_equal(trade.notional, first.notional + second.notional)
        np.testing.assert_array_equal(trade.agent_volume, first.agent_volume + second.agent_volume)
        np.testing.assert_array_equal(ioc_traded, second.volume > 0)
        assert int(jnp.sum(second.volume > 0)) > 0 and int(jnp.sum(trade.agent_volume)) > 0


def test_agent_market_order_equals_a_take_per_side():
    """The agent's signed market order in one walk against the per-book specification, a walk
    per side with agent_take (buys and sells, sizes beyond the book's depth, and zero)."""
    for seed in (7, 8):
        books, rng = random_books(seed)
        qty = jnp.asarray(rng.integers(-2 * CAPACITY, 2 * CAPACITY + 1, size=BOOKS), jnp.int32)
        qty = jnp.where(jnp.asarray(rng.random(BOOKS) < 0.2), 0, qty)

        expected, signed, notional = jax.jit(jax.vmap(market_order_per_side))(books, qty)
        got, got_signed, got_notional = jax.jit(jax.vmap(lob.agent_market_order))(books, qty)
        assert_books_equal(got, expected)
        np.testing.assert_array_equal(got_signed, signed)
        np.testing.assert_array_equal(got_notional, notional)
        assert int(jnp.sum(signed > 0)) > 0 and int(jnp.sum(signed < 0)) > 0
        assert int(jnp.sum((np.asarray(books.agent_active).any(axis=1)) & (np.asarray(signed) != 0))) > 0
