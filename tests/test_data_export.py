"""Simulated markets as data: the flow recorder, the exporters, the sample files, and the
independent reconstruction of LOBSTER order-book files by replaying their messages through our book."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmm.data.book import book_arrays
from jaxmm.data.events import MAX_RELATIVE_TICKS, EventKind
from jaxmm.data.export import export_stream
from jaxmm.data.lobster import (EventType, read_lobster_book, read_lobster_messages, write_lobster_book,
                                write_lobster_messages)
from jaxmm.data.exchange import read_l2_updates, read_trades
from jaxmm.data.recorder import _simulate_in_chunks, simulate_events, warmed_book
from jaxmm.data.sample_data import (STEP_SECONDS, lob_sample_config, lob_sample_stream,
                                    model_sample_stream, sample_path)
from jaxmm.data.streams import NOT_REPLAYED, lobster_stream
from jaxmm.envs.lob import book as lob, observation as ob
from jaxmm.envs.lob.build import flow_params, warm_book
from jaxmm.envs.lob.config import LobEnvConfig
from jaxmm.envs.lob.flow import flow_step, flow_uniforms, uniforms_from_bits
from jaxmm.envs.replay.book import replay_levels
from jaxmm.errors import DataError

DEPTH = 10
REPLAY_HALF_WIDTH = 64  # wide enough that the ten best levels of every row lie inside the window
FLOW_STEPS = 500
# A busy book: many cancellations spanning several orders, market orders walking levels (the window
# and slots of configs/lob.yaml, so the compiled programs are the ones the other tests use).
BUSY = dict(half_width=14, max_distance=6, cancel_rate=0.03, market_rate=0.8, size_mean=4.0)
REGENERATED_STEPS = 120
NARROW_HALF_WIDTH = 12  # the ten best levels of this book stay within 12 ticks of the mid
FAIR_VALUE_RTOL = 1e-5


def test_recorded_flow_is_the_simulators_flow():
    """Step for step, the recorder's book is the one ``flow_step`` (and the window move) leaves."""
    cfg = LobEnvConfig(**BUSY)
    flow = flow_params(cfg)
    book, mid, fair_value = warm_book(cfg, flow, cfg.warmup_steps)
    recorded_warm = warmed_book(cfg, flow)[0]
    for name in ("origin", "volume", "added", "cancelled", "traded", "exited"):
        np.testing.assert_array_equal(getattr(recorded_warm, name), getattr(book, name), err_msg=name)
    keys = jax.random.split(jax.random.key(0), FLOW_STEPS)
    (rows, _, _, start), (recorded, _, _) = _simulate_in_chunks(book, mid, fair_value, flow, keys, cfg)
    words = (flow_uniforms(cfg.limit_slots, cfg.cancel_slots) + 1) // 2

    def body(carry, key):
        book, mid, fair_value, excitation = carry
        uniforms = uniforms_from_bits(jax.random.bits(key, (words,), dtype=jnp.uint32))
        before = (book.volume, book.origin, mid, fair_value)
        book, fair_value, excitation, _ = flow_step(book, uniforms, flow, mid, fair_value, excitation,
                                                    cfg.limit_slots, cfg.cancel_slots)
        mid = ob.mid_price(book, mid)
        book, _ = lob.shift_window(book, jnp.round(mid).astype(jnp.int32) - cfg.half_width)
        return (book, mid, fair_value, excitation), before

    carry = (book, mid, fair_value, jnp.zeros((lob.NUM_SIDES,), jnp.float32))
    (simulated, *_), before = jax.jit(lambda c, k: jax.lax.scan(body, c, k))(carry, keys)
    for got, expected, name in zip(start[:3], before[:3], ("volume", "origin", "mid")):
        np.testing.assert_array_equal(got, expected, err_msg=name)
    # The fair value is a float32 sum, rounded by another compiled program: the last bit may differ.
    np.testing.assert_allclose(start[3], before[3], rtol=FAIR_VALUE_RTOL)
    for name in ("origin", "volume", "added", "cancelled", "traded", "exited", "rejected"):
        np.testing.assert_array_equal(getattr(recorded, name), getattr(simulated, name), err_msg=name)
    kinds = {int(k) for k in rows[rows[..., 3] > 0][:, 0]}
    assert kinds == {EventKind.ADD, EventKind.REMOVE, EventKind.TAKE}


def assert_reconstructs(message_path, book_path, half_width=REPLAY_HALF_WIDTH, first_row=0):
    """Replay the message file through the device book; compare every row of the order-book file
    from ``first_row`` on."""
    stream, message_event = lobster_stream(read_lobster_messages(message_path), half_width=half_width,
                                           step_seconds=STEP_SECONDS, source=message_path)
    file_book = book_arrays(read_lobster_book(book_path, message_path=message_path).read())
    assert np.all(message_event != NOT_REPLAYED) and len(message_event) == len(file_book.bid_size)
    levels = np.asarray(replay_levels(stream.events, stream.start_volume[0], stream.start_origin[0], DEPTH))
    levels = levels[message_event]
    for row, (price, size) in enumerate(((file_book.bid_price, file_book.bid_size),
                                         (file_book.ask_price, file_book.ask_size))):
        got_size = levels[:, 2 * row + 1]
        got_price = np.where(got_size > 0, stream.prices(levels[:, 2 * row]), np.nan)
        bad = ~((got_size == size) & ((got_price == price) | (np.isnan(got_price) & np.isnan(price))))
        bad[:first_row] = False
        assert not bad.any(), f"row {np.argwhere(bad)[0]} differs"
    return stream


def written(tmp_path, stream, name):
    tape = export_stream(stream)
    messages, book = tmp_path / f"{name}_message_10.csv", tmp_path / f"{name}_orderbook_10.csv"
    write_lobster_messages(messages, tape.messages)
    write_lobster_book(book, tape.book)
    return messages, book, tape


def test_generated_streams_with_partial_cancels_deletes_and_executions_reconstruct(tmp_path):
    stream, _ = simulate_events(LobEnvConfig(**BUSY), 400, seed=3)
    messages, book, tape = written(tmp_path, stream, "busy")
    counts = tape.messages["event_type"].value_counts()
    for kind in (EventType.SUBMIT, EventType.PARTIAL_CANCEL, EventType.DELETE, EventType.EXECUTE_VISIBLE):
        assert counts.get(int(kind), 0) > 100, counts
    # One cancellation of the simulator often spans several orders (messages sharing a time).
    removals = tape.messages[tape.messages["event_type"].isin([EventType.PARTIAL_CANCEL, EventType.DELETE])]
    assert removals.duplicated(["time"]).sum() > 20
    assert_reconstructs(messages, book)
    # A narrow window that the mid wanders across: levels leave it and come back (shift rows). The
    # window is centred once the book has a mid, so the rows of the initial book's first second are left out.
    initial = int(np.count_nonzero(tape.messages["time"] < tape.messages["time"].iloc[0] + STEP_SECONDS))
    narrow = assert_reconstructs(messages, book, half_width=NARROW_HALF_WIDTH, first_row=initial)
    assert np.count_nonzero(narrow.events[:, 0] == EventKind.SHIFT) > 10


@pytest.mark.parametrize("name", ["lob", "model"])
def test_the_sample_reconstructs_level_by_level(name):
    stream = assert_reconstructs(sample_path(name, "messages"), sample_path(name, "book"))
    # Real price levels: LOBSTER prices near 5,850,000 become small ticks from the first price.
    assert stream.price_origin > 5_000_000 and stream.tick == 100
    assert np.abs(stream.events[:, 2]).max() < MAX_RELATIVE_TICKS


def test_the_sample_is_what_the_generator_writes():
    """The first steps simulated again give the sample's first rows, in every file."""
    assert lob_sample_config().reference_price == 585.0
    for name, stream in (("lob", lob_sample_stream(REGENERATED_STEPS)),
                         ("model", model_sample_stream(REGENERATED_STEPS))):
        tape = export_stream(stream)
        for kind, reader, frame in (("messages", read_lobster_messages, tape.messages),
                                    ("book", read_lobster_book, tape.book), ("l2", read_l2_updates, tape.l2),
                                    ("trades", read_trades, tape.trades)):
            first = next(iter(reader(sample_path(name, kind), chunk_rows=len(frame))))  # only the first rows
            np.testing.assert_array_equal(first.to_numpy(), frame.to_numpy(), err_msg=f"{name} {kind}")


def test_l2_and_trades_agree_with_the_lobster_messages(tmp_path):
    """The exchange-style files of one stream carry the same volume as its LOBSTER messages."""
    stream, _ = simulate_events(LobEnvConfig(**BUSY), 200, seed=5)
    tape = export_stream(stream)
    executions = tape.messages[tape.messages["event_type"] == EventType.EXECUTE_VISIBLE]
    assert tape.trades["amount"].sum() == executions["size"].sum()
    buys = tape.trades[tape.trades["side"] == "buy"]["amount"].sum()
    assert buys == executions[executions["direction"] == -1]["size"].sum()  # buyers execute sell orders
    # The last L2 amount of every level is the level's volume in the last LOBSTER book row.
    last = tape.l2.groupby(["side", "price"])["amount"].last()
    final = book_arrays(tape.book.iloc[[-1]])
    for side, prices, sizes in (("bid", final.bid_price[0], final.bid_size[0]),
                                ("ask", final.ask_price[0], final.ask_size[0])):
        for price, size in zip(prices, sizes):
            if not np.isnan(price):
                assert last[side, round(price / 10_000, 10)] == size


def test_prices_off_the_tick_grid_are_one_error_naming_the_file(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("34200.1,1,1,5,1000000,1\n34200.2,1,2,5,1000100,-1\n34200.3,1,3,5,1000150,-1\n")
    with pytest.raises(DataError, match=f"^{path}: price 1000150 at time 34200.3 is not on the tick grid"):
        lobster_stream(read_lobster_messages(path), tick=100, source=path)
