"""``data inspect``: format detection, the report, and the argparse command."""

from __future__ import annotations

import argparse
import json

import pytest

from jaxmm.data.exchange import read_book_snapshots, write_book_snapshots
from jaxmm.data.inspect import detect_format, inspect_file, register
from tests.test_data_exchange import BOOK, L2, TRADES
from tests.test_data_lobster import BOOK as LOBSTER_BOOK
from tests.test_data_lobster import MESSAGES, expect_error, with_row, write_text


def run_cli(*argv: str) -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["data", "inspect", *map(str, argv)])
    args.func(args)


@pytest.mark.parametrize("name, text, fmt", [
    ("msg.csv", MESSAGES, "lobster"), ("book.csv", LOBSTER_BOOK, "lobster_book"), ("l2.csv.gz", L2, "l2"),
    ("snap.csv", BOOK, "book"), ("trades.csv", TRADES, "trades"),
])
def test_formats_are_detected(tmp_path, name, text, fmt):
    assert detect_format(write_text(tmp_path, name, text)) == fmt


def test_parquet_format_is_detected_from_the_schema(tmp_path):
    path = tmp_path / "snap.parquet"
    write_book_snapshots(path, read_book_snapshots(write_text(tmp_path, "snap.csv", BOOK)))
    assert detect_format(path) == "book"
    assert inspect_file(path)["levels"] == 2


def test_undetectable_format_asks_for_format(tmp_path):
    path = write_text(tmp_path, "odd.csv", "1,2,3\n")
    expect_error(lambda: inspect_file(path), path, None, "cannot tell the format from the first row (3 fields)")


def test_report_of_a_lobster_file(tmp_path):
    path = write_text(tmp_path, "msg.csv", MESSAGES)
    report = inspect_file(path)
    assert (report["format"], report["rows"], report["rows_kept"], report["rows_skipped"]) == ("lobster", 6, 5, 1)
    assert report["skipped"] == {"hidden execution (event type 5)": 1}
    assert report["counts"]["submit"] == 2
    assert (report["start"], report["end"]) == ("09:30:00.010000", "09:30:02.000000")
    assert report["duration_seconds"] == pytest.approx(1.99)
    book = inspect_file(write_text(tmp_path, "book.csv", LOBSTER_BOOK), message_path=path)
    assert (book["levels"], book["start"]) == (2, "09:30:00.010000")


def test_command_prints_a_summary(tmp_path, capsys):
    run_cli(write_text(tmp_path, "trades.csv", TRADES))
    out = capsys.readouterr().out
    assert "trades (trades)" in out
    assert "3 read, 3 kept, 0 skipped" in out
    assert "2023-11-14T22:13:20.000100+00:00 to 2023-11-14T22:13:20.005200+00:00 UTC" in out
    assert "buy 2, sell 1" in out


def test_command_options_and_json(tmp_path, capsys):
    path = write_text(tmp_path, "msg.csv", "34200.001,3,7,5,1000000,1\n" + MESSAGES)
    run_cli(path, "--format", "lobster", "--unknown-orders", "skip", "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["skipped"]["order not live in this file (unknown_orders='skip')"] == 1


def test_command_raises_data_error_on_bad_input(tmp_path):
    path = write_text(tmp_path, "l2.csv", with_row(L2, 3, L2.splitlines()[2].replace("101", "1x1")))
    expect_error(lambda: run_cli(path), path, 2, "unparsable number '1x1' in column 'price'")
    trades = write_text(tmp_path, "trades.csv", TRADES)
    expect_error(lambda: run_cli(trades, "--format", "l2"), trades, None, "missing column(s) 'is_snapshot'")
    expect_error(lambda: run_cli(trades, "--max-gap-seconds", "0.001"), trades, 3, "exceeds max_gap_seconds=0.001")
