"""The ``data inspect`` command: validate a market-data file in full and summarise it.

``inspect_file`` reads the whole file through its reader (so every check
runs) and reports rows, time span, counts per event type or side and the
rows skipped with their reasons. ``register`` adds ``data inspect PATH
[--format ...]`` to an argparse command line.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path

from jaxmm.data import exchange, lobster
from jaxmm.data.book import FIELDS_PER_LEVEL, count_levels
from jaxmm.data.lobster_orders import UNKNOWN_ORDER_POLICIES, UNKNOWN_ORDERS_ERROR
from jaxmm.data.stream import TIME_ORIGIN_EPOCH
from jaxmm.data.tables import DEFAULT_CHUNK_ROWS, PARQUET, peek_columns, storage_kind
from jaxmm.data.validation import data_error

FORMAT_DESCRIPTIONS = {
    lobster.FORMAT_MESSAGES: "LOBSTER message file",
    lobster.FORMAT_BOOK: "LOBSTER order-book file",
    exchange.FORMAT_L2: "incremental L2 updates",
    exchange.FORMAT_BOOK: "top-N book snapshots",
    exchange.FORMAT_TRADES: "trades",
}
FORMATS = tuple(FORMAT_DESCRIPTIONS)
SECONDS_PER_HOUR = 3600
SECONDS_PER_MINUTE = 60
JSON_INDENT = 2


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def detect_format(path: str | Path) -> str:
    """The format of ``path`` from its column names (header, Parquet schema) or, headerless, its field count."""
    columns = peek_columns(path)
    named = storage_kind(path) == PARQUET or not all(map(_is_number, columns))
    if named:
        if "is_snapshot" in columns:
            return exchange.FORMAT_L2
        if "exchange" in columns and count_levels(columns):
            return exchange.FORMAT_BOOK
        if "exchange" in columns and "id" in columns:
            return exchange.FORMAT_TRADES
        if set(columns) == set(lobster.MESSAGE_COLUMNS):
            return lobster.FORMAT_MESSAGES
        if count_levels(columns):
            return lobster.FORMAT_BOOK
    elif len(columns) == len(lobster.MESSAGE_COLUMNS):
        return lobster.FORMAT_MESSAGES
    elif columns and len(columns) % FIELDS_PER_LEVEL == 0:
        return lobster.FORMAT_BOOK
    shown = ", ".join(columns) if named else f"{len(columns)} fields"
    raise data_error(path, f"cannot tell the format from the first row ({shown}); "
                           f"pass --format ({', '.join(FORMATS)})")


def _clock(seconds: float, origin: str) -> str:
    if origin == TIME_ORIGIN_EPOCH:
        return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat(timespec="microseconds")
    hours, rest = divmod(seconds, SECONDS_PER_HOUR)
    minutes, rest = divmod(rest, SECONDS_PER_MINUTE)
    return f"{int(hours):02d}:{int(minutes):02d}:{rest:09.6f}"


def inspect_file(path: str | Path, fmt: str | None = None, *, unknown_orders: str = UNKNOWN_ORDERS_ERROR,
                 unknown_side: str = exchange.UNKNOWN_SIDE_ERROR, message_path: str | Path | None = None,
                 max_gap_seconds: float | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> dict:
    """Validate ``path`` in full and summarise it; raises DataError on the first problem.

    ``fmt`` is one of :data:`FORMATS` (detected when None). ``unknown_orders``
    applies to LOBSTER messages, ``message_path`` to LOBSTER books (the time
    span comes from it), ``unknown_side`` to trades, ``max_gap_seconds`` to all.
    The report holds ``path, format, description, rows, rows_kept,
    rows_skipped, counts, skipped, first_time, last_time, duration_seconds,
    start, end`` (and ``levels`` for books).
    """
    fmt = detect_format(path) if fmt is None else fmt
    common = {"max_gap_seconds": max_gap_seconds, "chunk_rows": chunk_rows}
    if fmt == lobster.FORMAT_MESSAGES:
        stream = lobster.read_lobster_messages(path, unknown_orders=unknown_orders, **common)
    elif fmt == lobster.FORMAT_BOOK:
        stream = lobster.read_lobster_book(path, message_path=message_path, **common)
    elif fmt == exchange.FORMAT_L2:
        stream = exchange.read_l2_updates(path, **common)
    elif fmt == exchange.FORMAT_BOOK:
        stream = exchange.read_book_snapshots(path, **common)
    elif fmt == exchange.FORMAT_TRADES:
        stream = exchange.read_trades(path, unknown_side=unknown_side, **common)
    else:
        raise data_error(path, f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    report = stream.scan().as_dict()
    report["description"] = FORMAT_DESCRIPTIONS[fmt]
    origin = report["time_origin"]
    known = report["first_time"] is not None
    report["start"] = _clock(report["first_time"], origin) if known else None
    report["end"] = _clock(report["last_time"], origin) if known else None
    return report


def _listing(counts: dict) -> str:
    return ", ".join(f"{name} {number:,}" for name, number in counts.items()) or "none"


def format_report(report: dict) -> str:
    """A few readable lines summarising an :func:`inspect_file` report."""
    lines = [f"{report['path']}: {report['description']} ({report['format']})",
             f"  rows      {report['rows']:,} read, {report['rows_kept']:,} kept, "
             f"{report['rows_skipped']:,} skipped"]
    if report.get("levels") is not None:
        lines.append(f"  levels    {report['levels']}")
    if report["start"] is not None:
        origin = "UTC" if report["time_origin"] == TIME_ORIGIN_EPOCH else "after midnight"
        lines.append(f"  time      {report['start']} to {report['end']} {origin} "
                     f"({report['duration_seconds']:,.6g} s)")
    elif report["format"] == lobster.FORMAT_BOOK:
        lines.append("  time      not in the file (pass --message-file)")
    if report["counts"]:
        lines.append(f"  counts    {_listing(report['counts'])}")
    skipped = "; ".join(f"{reason}: {number:,}" for reason, number in report["skipped"].items())
    lines.append(f"  skipped   {skipped or 'none'}")
    return "\n".join(lines)


def run_inspect(args: argparse.Namespace) -> None:
    """Handler of ``data inspect``: print the summary (or JSON with ``--json``)."""
    report = inspect_file(args.path, args.format, unknown_orders=args.unknown_orders,
                          unknown_side=args.unknown_side, message_path=args.message_file,
                          max_gap_seconds=args.max_gap_seconds)
    print(json.dumps(report, indent=JSON_INDENT) if args.json else format_report(report))


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``data`` command (subcommand ``inspect``) to an argparse ``add_subparsers()`` object.

    The ``inspect`` parser sets ``func=run_inspect``; input problems raise
    :class:`jaxmm.errors.DataError`. Returns the ``data`` parser.
    """
    data = subparsers.add_parser("data", help="check and summarise market-data files",
                                 description="Check and summarise market-data files.")
    commands = data.add_subparsers(dest="data_command", required=True)
    inspect = commands.add_parser(
        "inspect", help="validate a file and print its rows, time span, counts and skipped rows",
        description="Validate a LOBSTER or exchange-feed file (CSV, CSV.gz, Parquet) and summarise it.")
    inspect.add_argument("path", help="the file to inspect")
    inspect.add_argument("--format", choices=FORMATS, help="file format (default: detected from the columns)")
    inspect.add_argument("--message-file", help="LOBSTER message file matching a lobster_book file (gives times)")
    inspect.add_argument("--unknown-orders", choices=UNKNOWN_ORDER_POLICIES, default=UNKNOWN_ORDERS_ERROR,
                         help="LOBSTER references to orders not submitted in the file: error (default) or skip")
    inspect.add_argument("--unknown-side", choices=exchange.UNKNOWN_SIDE_POLICIES, default=exchange.UNKNOWN_SIDE_ERROR,
                         help="trades whose aggressor side is 'unknown': error (default) or skip")
    inspect.add_argument("--max-gap-seconds", type=float, help="fail when consecutive rows are further apart")
    inspect.add_argument("--json", action="store_true", help="print the report as JSON")
    inspect.set_defaults(func=run_inspect)
    return data
