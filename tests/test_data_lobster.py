"""LOBSTER message and order-book files: reading, validation messages, writers and round trips."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxmm.data.lobster import (DUMMY_ASK_PRICE, DUMMY_BID_PRICE, MESSAGE_DTYPES, EventType, lobster_trades,
                                read_lobster_book, read_lobster_messages, write_lobster_book,
                                write_lobster_messages)
from jaxmm.errors import DataError

# time, type, order id, size, price, direction: two submits, an execution, a hidden execution, a cancel, a delete.
MESSAGES = """\
34200.01,1,11,100,1000000,1
34200.02,1,12,50,1001000,-1
34200.02,4,12,20,1001000,-1
34200.5,5,0,10,1000500,1
34201,2,11,30,1000000,1
34202,3,11,70,1000000,1
"""
# Two levels; the second is empty (LOBSTER dummy values) except the ask side of rows 2-5.
BOOK = f"""\
{DUMMY_ASK_PRICE},0,1000000,100,{DUMMY_ASK_PRICE},0,{DUMMY_BID_PRICE},0
1001000,50,1000000,100,{DUMMY_ASK_PRICE},0,{DUMMY_BID_PRICE},0
1001000,30,1000000,100,{DUMMY_ASK_PRICE},0,{DUMMY_BID_PRICE},0
1001000,30,1000000,100,{DUMMY_ASK_PRICE},0,{DUMMY_BID_PRICE},0
1001000,30,1000000,70,1002000,5,{DUMMY_BID_PRICE},0
1001000,30,{DUMMY_BID_PRICE},0,1002000,5,{DUMMY_BID_PRICE},0
"""


def write_text(tmp_path, name: str, text: str):
    """Write ``text`` to ``tmp_path/name`` (gzipped when the name ends in .gz) and return the path."""
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def expect_error(call, path, row: int | None, fragment: str) -> str:
    """``call()`` raises one DataError line naming ``path``, ``row`` (None: no row) and containing ``fragment``."""
    with pytest.raises(DataError) as info:
        call()
    message = str(info.value)
    where = f"{path}: " if row is None else f"{path}: row {row}: "
    assert message.startswith(where), message
    assert fragment in message, message
    assert "\n" not in message
    return message


def with_row(text: str, row: int, line: str) -> str:
    """``text`` with its 1-based ``row`` replaced by ``line``."""
    lines = text.splitlines()
    lines[row - 1] = line
    return "\n".join(lines) + "\n"


def read_messages(path, **options) -> pd.DataFrame:
    return read_lobster_messages(path, **options).read()


def test_messages_are_typed_and_skipped_rows_counted(tmp_path):
    path = write_text(tmp_path, "msg.csv", MESSAGES)
    stream = read_lobster_messages(path, chunk_rows=2)
    frame = stream.read()
    assert frame.dtypes.to_dict() == {name: np.dtype(dtype) for name, dtype in MESSAGE_DTYPES.items()}
    assert frame["event_type"].tolist() == [1, 1, 4, 2, 3]  # the hidden execution is left out
    assert frame["time"].tolist() == [34200.01, 34200.02, 34200.02, 34201.0, 34202.0]
    summary = stream.summary
    assert (summary.rows, summary.rows_kept, summary.rows_skipped) == (6, 5, 1)
    assert dict(summary.skipped) == {"hidden execution (event type 5)": 1}
    assert summary.counts["submit"] == 2 and summary.counts["hidden execution"] == 1
    assert (summary.first_time, summary.last_time) == (34200.01, 34202.0)
    assert [len(chunk) for chunk in read_lobster_messages(path, chunk_rows=2)] == [2, 1, 2]


def test_halts_and_cross_trades_are_skipped_as_configured(tmp_path):
    text = MESSAGES + "34203,7,0,0,-1,-1\n34204,6,0,500,1000500,1\n"
    path = write_text(tmp_path, "msg.csv", text)
    stream = read_lobster_messages(path)
    assert len(stream.read()) == 5
    assert stream.summary.skipped == {"hidden execution (event type 5)": 1, "trading halt (event type 7)": 1,
                                      "cross trade (event type 6)": 1}
    kept = read_lobster_messages(path, skip_events={EventType.TRADING_HALT})
    assert kept.read()["event_type"].tolist() == [1, 1, 4, 5, 2, 3, 6]
    assert kept.summary.skipped == {"trading halt (event type 7)": 1}


@pytest.mark.parametrize("row, line, fragment", [
    (2, "34200.02,1,12,abc,1001000,-1", "unparsable integer 'abc' in column 'size'"),
    (2, "34200.02,1,12,,1001000,-1", "missing value in column 'size'"),
    (1, "NaN,1,11,100,1000000,1", "NaN value in column 'time'"),
    (2, "34200.02,1.5,12,50,1001000,-1", "unparsable integer '1.5' in column 'event_type'"),
    (2, "34200.02,9,12,50,1001000,-1", "unknown event type 9"),
    (2, "34200.02,1,12,50,1001000,0", "direction 0 is neither"),
    (2, "34200.02,1,12,0,1001000,-1", "non-positive size 0"),
    (2, "34200.02,1,12,50,-5,-1", "non-positive price -5"),
    (1, "90000,1,11,100,1000000,1", "is not between 0 and 86400"),
    (3, "34200.00,4,12,20,1001000,-1", "timestamps out of order: time 34200 is earlier than 34200.02 on row 2"),
    (3, "34200.02,4,12,20,1001000,-1,7", "expected 6 fields, found 7"),
    (5, "34201,2,99,30,1000000,1", "partial cancel of order id 99, which is not live"),
    (5, "34201,3,99,30,1000000,1", "delete of order id 99, which is not live"),
    (3, "34200.02,4,12,80,1001000,-1", "visible execution of size 80 exceeds the 50 remaining of order id 12"),
    (2, "34200.02,1,11,50,1001000,-1", "order id 11 submitted while already live"),
])
def test_malformed_message_rows_name_file_row_and_problem(tmp_path, row, line, fragment):
    path = write_text(tmp_path, "msg.csv", with_row(MESSAGES, row, line))
    expect_error(lambda: read_messages(path, chunk_rows=2), path, row, fragment)


def test_repeated_times_are_allowed_but_gaps_can_be_bounded(tmp_path):
    path = write_text(tmp_path, "msg.csv", MESSAGES)
    assert len(read_messages(path, max_gap_seconds=1.0)) == 5
    expect_error(lambda: read_messages(path, max_gap_seconds=0.4), path, 4,
                 "gap of 0.48 s since row 3 exceeds max_gap_seconds=0.4")


def test_orders_from_before_the_file_can_be_skipped_and_counted(tmp_path):
    text = "34200.001,4,7,10,1000000,1\n34200.002,3,7,5,1000000,1\n" + MESSAGES
    path = write_text(tmp_path, "msg.csv", text)
    expect_error(lambda: read_messages(path), path, 1, "visible execution of order id 7, which is not live")
    stream = read_lobster_messages(path, unknown_orders="skip")
    assert len(stream.read()) == 5
    assert stream.summary.skipped["order not live in this file (unknown_orders='skip')"] == 2


def test_whole_file_problems(tmp_path):
    missing = tmp_path / "absent.csv"
    expect_error(lambda: read_messages(missing), missing, None, "file not found")
    empty = write_text(tmp_path, "empty.csv", "")
    expect_error(lambda: read_messages(empty), empty, None, "file is empty")
    narrow = write_text(tmp_path, "narrow.csv", "34200.01,1,11,100,1000000\n")
    expect_error(lambda: read_messages(narrow), narrow, 1, "expected 6 columns, found 5")
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(b"not gzip at all")
    expect_error(lambda: read_messages(broken), broken, None, "cannot read the file")


def test_book_reads_dummy_levels_as_empty_and_takes_message_times(tmp_path):
    book = write_text(tmp_path, "book.csv", BOOK)
    messages = write_text(tmp_path, "msg.csv", MESSAGES)
    stream = read_lobster_book(book, message_path=messages, chunk_rows=4)
    frame = stream.read()
    assert list(frame.columns[:5]) == ["time", "asks[0].price", "asks[0].amount", "bids[0].price", "bids[0].amount"]
    assert frame["time"].tolist() == [34200.01, 34200.02, 34200.02, 34200.5, 34201.0, 34202.0]
    assert np.isnan(frame["asks[0].price"][0]) and np.isnan(frame["asks[0].amount"][0])
    assert frame["bids[0].amount"].tolist()[:5] == [100, 100, 100, 100, 70]
    assert stream.summary.levels == 2
    assert len(read_lobster_book(book, levels=2).read()) == 6


def test_book_round_trip_is_byte_identical(tmp_path):
    book = write_text(tmp_path, "book.csv", BOOK)
    for name in ("copy.csv", "copy.csv.gz", "copy.parquet"):
        out = tmp_path / name
        assert write_lobster_book(out, read_lobster_book(book, chunk_rows=4)) == 6
        pd.testing.assert_frame_equal(read_lobster_book(out).read(), read_lobster_book(book).read())
    assert (tmp_path / "copy.csv").read_text() == BOOK


@pytest.mark.parametrize("row, line, fragment", [
    (2, f"1000000,50,1000000,100,{DUMMY_ASK_PRICE},0,{DUMMY_BID_PRICE},0",
     "locked book: best bid 1000000 equals best ask 1000000"),
    (2, f"999000,50,1000000,100,{DUMMY_ASK_PRICE},0,{DUMMY_BID_PRICE},0",
     "crossed book: best bid 1000000 is above best ask 999000"),
    (2, f"1001000,0,1000000,100,{DUMMY_ASK_PRICE},0,{DUMMY_BID_PRICE},0", "non-positive ask size level 1: 0"),
    (2, f"1001000,50,-3,100,{DUMMY_ASK_PRICE},0,{DUMMY_BID_PRICE},0", "non-positive bid price level 1: -3"),
    (2, f"1001000,50,1000000,100,{DUMMY_ASK_PRICE},7,{DUMMY_BID_PRICE},0",
     "ask size level 2 is 7 but ask price level 2 marks an empty level"),
    (2, f"{DUMMY_ASK_PRICE},0,1000000,100,1001000,5,{DUMMY_BID_PRICE},0",
     "ask price level 2 is set but the shallower level ask price level 1 is empty"),
    (2, f"1001000,50,1000000,100,1000500,5,{DUMMY_BID_PRICE},0",
     "ask levels out of order: ask price level 2 1000500 after ask price level 1 1001000"),
    (2, f"1001000,50,1000000,100,{DUMMY_ASK_PRICE},0,x,0", "unparsable integer 'x' in column 'bids[1].price'"),
])
def test_malformed_book_rows_name_file_row_and_problem(tmp_path, row, line, fragment):
    path = write_text(tmp_path, "book.csv", with_row(BOOK, row, line))
    expect_error(lambda: read_lobster_book(path, chunk_rows=4).read(), path, row, fragment)


def test_book_shape_and_message_file_mismatches(tmp_path):
    odd = write_text(tmp_path, "odd.csv", "1001000,50,1000000,100,1\n")
    expect_error(lambda: read_lobster_book(odd).read(), odd, None, "expected 4 columns per level")
    book = write_text(tmp_path, "book.csv", BOOK)
    expect_error(lambda: read_lobster_book(book, levels=3).read(), book, None, "expected 3 levels, found 2")
    short = write_text(tmp_path, "short.csv", "\n".join(MESSAGES.splitlines()[:4]) + "\n")
    expect_error(lambda: read_lobster_book(book, message_path=short).read(), book, 5,
                 "the order-book file has more rows than the message file")
    long = write_text(tmp_path, "long.csv", MESSAGES + "34203,1,13,10,1000000,1\n")
    expect_error(lambda: read_lobster_book(book, message_path=long).read(), book, None,
                 "ends after 6 rows but the message file")


def test_lobster_trades_sign_the_aggressor():
    messages = pd.DataFrame({"time": [1.0, 2.0, 3.0], "event_type": [1, 4, 4], "order_id": [1, 1, 2],
                             "size": [10, 4, 6], "price": [1_000_000, 1_000_000, 1_010_000],
                             "direction": [-1, -1, 1]})
    trades = lobster_trades(messages)
    assert trades["side"].tolist() == [1, -1]  # a sell order executed: the aggressor bought
    assert trades["price"].tolist() == [100.0, 101.0]
    assert trades["size"].tolist() == [4.0, 6.0]


@st.composite
def message_streams(draw):
    """Valid message frames: submits, then partial cancels / deletes / executions of live orders."""
    count = draw(st.integers(min_value=1, max_value=25))
    times = np.cumsum(draw(st.lists(st.sampled_from([0.0, 0.001, 0.25, 1.5]), min_size=count, max_size=count)))
    live, rows, next_id = {}, [], 1
    for time in (34200.0 + times).tolist():
        if live and draw(st.booleans()):
            order = draw(st.sampled_from(sorted(live)))
            kind = draw(st.sampled_from([EventType.PARTIAL_CANCEL, EventType.DELETE, EventType.EXECUTE_VISIBLE]))
            size = live[order] if kind == EventType.DELETE else draw(st.integers(1, live[order]))
            live[order] -= size
            if not live[order]:
                del live[order]
        else:
            order, kind, size = next_id, EventType.SUBMIT, draw(st.integers(1, 500))
            live[order], next_id = size, next_id + 1
        rows.append((time, int(kind), order, size, draw(st.integers(1, 2_000_000)), draw(st.sampled_from([1, -1]))))
    frame = pd.DataFrame(rows, columns=list(MESSAGE_DTYPES))
    return frame.astype(MESSAGE_DTYPES)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=message_streams(), chunk_rows=st.integers(1, 7))
def test_random_message_streams_round_trip(tmp_path, frame, chunk_rows):
    for name in ("msg.csv", "msg.csv.gz", "msg.parquet"):
        path = tmp_path / name
        write_lobster_messages(path, frame)
        back = read_lobster_messages(path, chunk_rows=chunk_rows).read()
        pd.testing.assert_frame_equal(back, frame.reset_index(drop=True))
