"""Exchange-style feeds (incremental L2, top-N snapshots, trades): reading, validation, writers, round trips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxmm.data.book import ASK, BID, book_arrays
from jaxmm.data.exchange import (L2_DTYPES, TRADE_DTYPES, book_dtypes, read_book_snapshots, read_l2_updates,
                                 read_trades, write_book_snapshots, write_l2_updates, write_trades)
from jaxmm.data.l2book import L2Book
from tests.test_data_lobster import expect_error, with_row, write_text

T0 = 1_700_000_000_000_000  # microseconds since the epoch
HEAD = "exchange,symbol,timestamp,local_timestamp"
L2 = f"""\
{HEAD},is_snapshot,side,price,amount
binance,BTCUSDT,{T0},{T0 + 100},true,bid,100.5,2
binance,BTCUSDT,{T0},{T0 + 100},true,ask,101,1.5
binance,BTCUSDT,{T0 + 1000},{T0 + 1100},false,ask,100.8,1
binance,BTCUSDT,{T0 + 1000},{T0 + 1100},false,ask,101,0
binance,BTCUSDT,{T0 + 2000},{T0 + 2100},false,bid,100.6,3
"""
BOOK_HEAD = f"{HEAD},asks[0].price,asks[0].amount,bids[0].price,bids[0].amount," \
            "asks[1].price,asks[1].amount,bids[1].price,bids[1].amount"
BOOK = f"""\
{BOOK_HEAD}
binance,BTCUSDT,{T0},{T0 + 100},101,1.5,100.5,2,102,1,,
binance,BTCUSDT,{T0 + 1000},{T0 + 1100},100.8,1,100.5,2,101,1.5,100,3
binance,BTCUSDT,{T0 + 2000},{T0 + 2100},100.8,1,100.6,3,101,1.5,100.5,2
"""
TRADES = f"""\
{HEAD},id,side,price,amount
binance,BTCUSDT,{T0},{T0 + 100},t1,buy,101,0.5
binance,BTCUSDT,{T0},{T0 + 100},t2,sell,100.5,0.25
binance,BTCUSDT,{T0 + 5000},{T0 + 5200},,buy,100.8,1
"""
STORAGE = ["copy.csv", "copy.csv.gz", "copy.parquet"]


def test_l2_updates_are_typed_and_counted(tmp_path):
    path = write_text(tmp_path, "l2.csv", L2)
    stream = read_l2_updates(path, chunk_rows=2)
    frame = stream.read()
    assert frame.dtypes.to_dict() == {name: pd.Series(dtype=dtype).dtype for name, dtype in L2_DTYPES.items()}
    assert frame["is_snapshot"].tolist() == [True, True, False, False, False]
    assert frame["amount"].tolist() == [2.0, 1.5, 1.0, 0.0, 3.0]
    counts = stream.summary.counts
    assert (counts["bid"], counts["ask"], counts["snapshot rows"], counts["level removals"]) == (2, 3, 2, 1)
    assert stream.summary.duration_seconds == 0.002


@pytest.mark.parametrize("name", STORAGE)
def test_all_formats_round_trip_through_every_storage(tmp_path, name):
    for text, read, write in [(L2, read_l2_updates, write_l2_updates), (BOOK, read_book_snapshots,
                              write_book_snapshots), (TRADES, read_trades, write_trades)]:
        source = write_text(tmp_path, "source.csv", text)
        assert write(tmp_path / name, read(source, chunk_rows=2)) == len(text.splitlines()) - 1
        pd.testing.assert_frame_equal(read(tmp_path / name, chunk_rows=2).read(), read(source).read())


def test_vendor_csv_text_is_kept(tmp_path):
    source = write_text(tmp_path, "l2.csv", L2)
    write_l2_updates(tmp_path / "copy.csv", read_l2_updates(source))
    assert (tmp_path / "copy.csv").read_text().splitlines()[1] == f"binance,BTCUSDT,{T0},{T0 + 100},true,bid,100.5,2.0"


@pytest.mark.parametrize("row, line, fragment", [
    (3, f"binance,BTCUSDT,{T0},{T0 + 1100},false,ask,abc,1", "unparsable number 'abc' in column 'price'"),
    (3, f"binance,BTCUSDT,{T0},{T0 + 1100},false,ask,100.8,NaN", "NaN value in column 'amount'"),
    (3, f"binance,BTCUSDT,{T0},{T0 + 1100},false,buy,100.8,1", "unexpected value 'buy' in column 'side'"),
    (3, f"binance,BTCUSDT,{T0},{T0 + 1100},maybe,ask,100.8,1", "unparsable boolean 'maybe' in column 'is_snapshot'"),
    (3, f"binance,BTCUSDT,{T0},{T0 + 1100},false,ask,0,1", "non-positive price 0"),
    (3, f"binance,BTCUSDT,{T0},{T0 + 1100},false,ask,100.8,-1", "negative amount -1"),
    (3, f"binance,,{T0},{T0 + 1100},false,ask,100.8,1", "missing value in column 'symbol'"),
    (3, f"binance,BTCUSDT,{T0},{T0 + 50},false,ask,100.8,1",
     f"timestamps out of order: local_timestamp {T0 + 50} is earlier than {T0 + 100} on row 2"),
    (5, f"binance,BTCUSDT,{T0 + 2000},{T0 + 2100},false,bid,100.8,3",
     "locked book: best bid 100.8 equals best ask 100.8"),
    (5, f"binance,BTCUSDT,{T0 + 2000},{T0 + 2100},false,bid,100.9,3",
     "crossed book: best bid 100.9 is above best ask 100.8 in binance BTCUSDT"),
])
def test_malformed_l2_rows_name_file_row_and_problem(tmp_path, row, line, fragment):
    path = write_text(tmp_path, "l2.csv", with_row(L2, row + 1, line))
    expect_error(lambda: read_l2_updates(path, chunk_rows=2).read(), path, row, fragment)


def test_l2_book_is_checked_after_each_timestamp_group_and_reset_by_snapshots(tmp_path):
    # Within one timestamp the bid may pass the old ask as long as the ask moves too.
    text = L2 + f"""\
binance,BTCUSDT,{T0 + 3000},{T0 + 3100},false,bid,101.5,1
binance,BTCUSDT,{T0 + 3000},{T0 + 3100},false,ask,100.8,0
binance,BTCUSDT,{T0 + 3000},{T0 + 3100},false,ask,102,1
binance,BTCUSDT,{T0 + 4000},{T0 + 4100},true,bid,90,1
binance,BTCUSDT,{T0 + 4000},{T0 + 4100},true,ask,91,1
"""
    path = write_text(tmp_path, "l2.csv", text)
    assert len(read_l2_updates(path, chunk_rows=1).read()) == 10
    crossed = write_text(tmp_path, "crossed.csv", "\n".join(text.splitlines()[:7]) + "\n")
    expect_error(lambda: read_l2_updates(crossed, chunk_rows=1).read(), crossed, 6, "crossed book")
    expect_error(lambda: read_l2_updates(path, max_gap_seconds=0.0005).read(), path, 3,
                 "gap of 0.001 s since row 2 exceeds max_gap_seconds=0.0005")


def test_missing_and_unexpected_columns(tmp_path):
    path = write_text(tmp_path, "l2.csv", L2.replace(",amount", ",size", 1))
    expect_error(lambda: read_l2_updates(path).read(), path, None,
                 "header: missing column(s) 'amount'; unexpected column(s) 'size'")
    trades = write_text(tmp_path, "trades.csv", TRADES.replace("exchange,", "venue,", 1))
    expect_error(lambda: read_trades(trades).read(), trades, None, "missing column(s) 'exchange'")
    book = write_text(tmp_path, "book.csv", BOOK.replace(",bids[1].amount", "", 1))
    expect_error(lambda: read_book_snapshots(book).read(), book, None, "missing column(s) 'bids[1].amount'")
    flat = write_text(tmp_path, "flat.csv", f"{HEAD}\nbinance,BTCUSDT,{T0},{T0}\n")
    expect_error(lambda: read_book_snapshots(flat).read(), flat, None, "no level columns")
    expect_error(lambda: read_book_snapshots(write_text(tmp_path, "b.csv", BOOK), levels=5).read(),
                 tmp_path / "b.csv", None, "expected 5 levels, found 2")


def test_book_snapshots_become_arrays(tmp_path):
    frame = read_book_snapshots(write_text(tmp_path, "book.csv", BOOK)).read()
    assert frame.dtypes.to_dict() == {name: pd.Series(dtype=dtype).dtype for name, dtype in book_dtypes(2).items()}
    arrays = book_arrays(frame)
    np.testing.assert_array_equal(arrays.bid_price, [[100.5, np.nan], [100.5, 100], [100.6, 100.5]])
    np.testing.assert_array_equal(arrays.bid_size, [[2, 0], [2, 3], [3, 2]])
    np.testing.assert_array_equal(arrays.ask_price[:, 0], [101, 100.8, 100.8])


@pytest.mark.parametrize("row, line, fragment", [
    (2, f"binance,BTCUSDT,{T0 + 100},{T0 + 100},100.8,1,100.5,2,101,1.5,100,3",
     f"duplicate local_timestamp {T0 + 100} (same as row 1)"),
    (2, f"binance,BTCUSDT,{T0 + 1000},{T0 + 1100},100.8,1,100.9,2,101,1.5,100,3",
     "crossed book: best bid 100.9 is above best ask 100.8"),
    (2, f"binance,BTCUSDT,{T0 + 1000},{T0 + 1100},100.8,0,100.5,2,101,1.5,100,3", "non-positive asks[0].amount: 0"),
    (2, f"binance,BTCUSDT,{T0 + 1000},{T0 + 1100},100.8,1,100.5,2,101,1.5,,3",
     "bids[1].amount is 3 but bids[1].price marks an empty level"),
    (2, f"binance,BTCUSDT,{T0 + 1000},{T0 + 1100},100.8,1,100.5,2,101,1.5,100.7,3",
     "bid levels out of order: bids[1].price 100.7 after bids[0].price 100.5"),
    (3, f"binance,BTCUSDT,{T0 + 2000},{T0 + 2100},100.8,1,100.6,3,101,1.5,100.5,x",
     "unparsable number 'x' in column 'bids[1].amount'"),
])
def test_malformed_snapshot_rows_name_file_row_and_problem(tmp_path, row, line, fragment):
    path = write_text(tmp_path, "book.csv", with_row(BOOK, row + 1, line))
    expect_error(lambda: read_book_snapshots(path, chunk_rows=2).read(), path, row, fragment)


def test_trades_allow_repeated_times_and_count_sides(tmp_path):
    stream = read_trades(write_text(tmp_path, "trades.csv", TRADES))
    frame = stream.read()
    assert frame.dtypes.to_dict() == {name: pd.Series(dtype=dtype).dtype for name, dtype in TRADE_DTYPES.items()}
    assert frame["id"].tolist() == ["t1", "t2", ""]
    assert dict(stream.summary.counts) == {"buy": 2, "sell": 1}


@pytest.mark.parametrize("row, line, fragment", [
    (2, f"binance,BTCUSDT,{T0},{T0 + 100},t2,sell,100.5,0", "non-positive amount 0"),
    (2, f"binance,BTCUSDT,{T0},{T0 + 100},t2,sell,-1,1", "non-positive price -1"),
    (2, f"binance,BTCUSDT,{T0},{T0 + 100},t2,hold,100.5,1", "unexpected value 'hold' in column 'side'"),
    (2, f"binance,BTCUSDT,{T0},0,t2,sell,100.5,1", "non-positive local_timestamp 0"),
    (2, f"binance,BTCUSDT,{T0},{T0 + 100},t2,sell,100.5", "missing value in column 'amount'"),
])
def test_malformed_trade_rows_name_file_row_and_problem(tmp_path, row, line, fragment):
    path = write_text(tmp_path, "trades.csv", with_row(TRADES, row + 1, line))
    expect_error(lambda: read_trades(path).read(), path, row, fragment)


def test_unknown_trade_sides_can_be_skipped_and_counted(tmp_path):
    path = write_text(tmp_path, "trades.csv", TRADES.replace(",sell,", ",unknown,"))
    expect_error(lambda: read_trades(path).read(), path, 2, "unexpected value 'unknown'")
    stream = read_trades(path, unknown_side="skip")
    assert stream.read()["id"].tolist() == ["t1", ""]
    assert dict(stream.summary.skipped) == {"unknown aggressor side (unknown_side='skip')": 1}


def test_unreadable_parquet(tmp_path):
    path = tmp_path / "trades.parquet"
    path.write_bytes(b"definitely not parquet")
    expect_error(lambda: read_trades(path).read(), path, None, "not a readable Parquet file")


def test_parquet_values_are_validated_like_csv(tmp_path):
    frame = read_trades(write_text(tmp_path, "trades.csv", TRADES)).read()
    frame.loc[1, "price"] = np.nan
    path = tmp_path / "trades.parquet"
    write_trades(path, frame)
    expect_error(lambda: read_trades(path).read(), path, 2, "missing or NaN value in column 'price'")


@st.composite
def trade_frames(draw):
    count = draw(st.integers(min_value=0, max_value=30))
    local = T0 + np.cumsum(draw(st.lists(st.integers(0, 10**6), min_size=count, max_size=count)), dtype=np.int64)
    positive = st.floats(min_value=1e-8, max_value=1e9, allow_nan=False, allow_infinity=False)
    return pd.DataFrame({
        "exchange": ["binance"] * count,
        "symbol": draw(st.lists(st.sampled_from(["BTCUSDT", "ETH-PERP"]), min_size=count, max_size=count)),
        "timestamp": local - draw(st.integers(0, 1000)),
        "local_timestamp": local,
        "id": draw(st.lists(st.text("abc123-", max_size=6), min_size=count, max_size=count)),
        "side": draw(st.lists(st.sampled_from(["buy", "sell"]), min_size=count, max_size=count)),
        "price": draw(st.lists(positive, min_size=count, max_size=count)),
        "amount": draw(st.lists(positive, min_size=count, max_size=count)),
    }).astype(TRADE_DTYPES)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=trade_frames(), chunk_rows=st.integers(1, 8))
def test_random_trade_streams_round_trip(tmp_path, frame, chunk_rows):
    for name in STORAGE:
        write_trades(tmp_path / name, (frame.iloc[i:i + chunk_rows] for i in range(0, len(frame), chunk_rows)))
        pd.testing.assert_frame_equal(read_trades(tmp_path / name, chunk_rows=chunk_rows).read(), frame)


@settings(max_examples=30, deadline=None)
@given(updates=st.lists(st.tuples(st.sampled_from([BID, ASK]), st.integers(1, 6), st.sampled_from([0.0, 1.0, 2.5])),
                        max_size=60))
def test_l2_book_best_prices_match_a_brute_force_book(updates):
    book, levels = L2Book(), {BID: {}, ASK: {}}
    for side, price, amount in updates:
        assert book.apply(side, float(price), amount) == (amount > 0 or price in levels[side])
        if amount:
            levels[side][price] = amount
        else:
            levels[side].pop(price, None)
        assert book.top() == (max(levels[BID], default=None), min(levels[ASK], default=None))
        assert book.depth(BID) == len(levels[BID]) and book.depth(ASK) == len(levels[ASK])


def test_a_stream_can_be_left_early_and_read_again(tmp_path):
    stream = read_trades(write_text(tmp_path, "trades.csv", TRADES), chunk_rows=1)
    assert len(next(iter(stream))) == 1
    assert len(stream.read()) == 3 and stream.summary.rows == 3
