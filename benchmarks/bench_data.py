"""Market data at scale: a generated file of millions of rows through the streaming readers and the
features, next to a plain pandas read of the same file (rows/s and peak memory).

    python benchmarks/bench_data.py [--rows 5000000] [--dir /tmp/jaxmm-bench-data] [--chunk-rows 100000]

Generates (once; kept in --dir) a LOBSTER message file and its order-book file (``--levels``
levels) of at least ``--rows`` rows from the order-book simulator (the book of configs/lob.yaml,
0.05 s per step so that the session fits in one LOBSTER day), then measures, each in a fresh
process so that peak resident memory (VmHWM) is that pass's alone:

* ``stream``: ``jaxmm.data`` readers in chunks of ``--chunk-rows`` rows (every check: order ids,
  time order, book sanity), with features per chunk: executions as trades, their size
  distribution and arrival rates (messages); mid, spread, microprice, imbalance and cumulative
  depth (book);
* ``pandas``: ``pandas.read_csv`` of the whole file, then the same features on the one frame.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import host  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

DEFAULT_ROWS = 5_000_000
DEFAULT_DIR = "/tmp/jaxmm-bench-data"
DEFAULT_CHUNK_ROWS = 100_000
DEFAULT_LEVELS = 5
STEP_SECONDS = 0.05
SEGMENT_STEPS = 20_000
ARRIVAL_BIN_SECONDS = 60.0
SIZE_BINS = np.arange(0.5, 200.5)
KIB = 1024


def message_path(directory: Path) -> Path:
    return directory / "SIM_message.csv"


def book_path(directory: Path, levels: int) -> Path:
    return directory / f"SIM_orderbook_{levels}.csv"


def generate(directory: Path, rows: int, levels: int) -> dict:
    """Write the message and book files of at least ``rows`` rows (appending segment by segment)."""
    from jaxmm.config import load_config
    from jaxmm.data.export import TapeExporter
    from jaxmm.data.recorder import simulate_event_segments
    from jaxmm.data.lobster import _book_for_file

    directory.mkdir(parents=True, exist_ok=True)
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs/lob.yaml").env
    start = time.perf_counter()
    written, exporter = 0, None
    with open(message_path(directory), "w") as messages, open(book_path(directory, levels), "w") as book:
        for first, stream in simulate_event_segments(cfg, SEGMENT_STEPS, sys.maxsize, seed=0,
                                                     step_seconds=STEP_SECONDS):
            if exporter is None:
                exporter = TapeExporter(stream, levels=levels)
            exporter.add(stream, first)
            tape = exporter.take()
            tape.messages.to_csv(messages, header=False, index=False, lineterminator="\n")
            _book_for_file(tape.book).to_csv(book, header=False, index=False, lineterminator="\n")
            written += len(tape.messages)
            if written >= rows:
                break
    return {"rows": written, "seconds": time.perf_counter() - start}


def _peak_mib() -> float:
    """Peak resident memory of this process: VmHWM (ru_maxrss would include the parent's peak,
    which a child inherits at fork)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / KIB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / KIB


def child(mode: str, kind: str, path: str, chunk_rows: int) -> dict:
    """One measured pass (run in its own process)."""
    from jaxmm.data import features
    from jaxmm.data.book import book_arrays, level_columns
    from jaxmm.data.lobster import (DUMMY_ASK_PRICE, DUMMY_BID_PRICE, MESSAGE_COLUMNS, lobster_trades,
                                    read_lobster_book, read_lobster_messages)

    start = time.perf_counter()
    rows, summary = 0, {}
    if kind == "messages":
        frames = (read_lobster_messages(path, chunk_rows=chunk_rows) if mode == "stream"
                  else [pd.read_csv(path, header=None, names=list(MESSAGE_COLUMNS))])
        counts, traded, buys = np.zeros(len(SIZE_BINS) - 1), 0.0, 0
        for frame in frames:
            rows += len(frame)
            trades = lobster_trades(frame)
            counts += np.histogram(trades["size"], SIZE_BINS)[0]
            traded += float(trades["size"].sum())
            if len(trades):
                rates = features.arrival_rates(trades["time"], trades["side"], ARRIVAL_BIN_SECONDS)
                buys += int(round(rates.buy.sum() * ARRIVAL_BIN_SECONDS))
        summary = {"traded_units": traded, "buy_aggressors": buys, "trades": int(counts.sum())}
    else:
        if mode == "stream":
            frames = read_lobster_book(path, chunk_rows=chunk_rows)
        else:
            raw = pd.read_csv(path, header=None)
            levels = raw.shape[1] // 4
            raw.columns = level_columns(levels)
            for column in raw.columns:
                if column.endswith(".price"):
                    dummy = DUMMY_ASK_PRICE if column.startswith("asks") else DUMMY_BID_PRICE
                    raw[column] = raw[column].where(raw[column] != dummy)
            frames = [raw]
        total_spread, total_imbalance, total_micro, total_depth = 0.0, 0.0, 0.0, 0.0
        for frame in frames:
            rows += len(frame)
            book = book_arrays(frame)
            mid = features.mid_price(book.bid_price, book.ask_price)
            total_spread += float(np.nansum(features.spread(book.bid_price, book.ask_price)))
            total_imbalance += float(np.nansum(features.imbalance(book.bid_size, book.ask_size, levels=3)))
            total_micro += float(np.nansum(features.microprice(book.bid_price, book.bid_size, book.ask_price,
                                                               book.ask_size) - mid))
            total_depth += float(features.depth(book.bid_size, cumulative=True)[:, -1].sum())
        summary = {"mean_spread": total_spread / rows, "mean_imbalance": total_imbalance / rows,
                   "mean_depth": total_depth / rows}
    seconds = time.perf_counter() - start
    return {"mode": mode, "file": kind, "rows": rows, "seconds": seconds, "rows_per_second": rows / seconds,
            "peak_rss_mib": _peak_mib(), "summary": summary}


def machine() -> str:
    model = host.cpu_model() or platform.processor() or platform.machine()
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, pandas {pd.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--dir", default=DEFAULT_DIR)
    parser.add_argument("--levels", type=int, default=DEFAULT_LEVELS)
    parser.add_argument("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS)
    parser.add_argument("--child", nargs=3, metavar=("MODE", "KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.chunk_rows)))
        return
    directory = Path(args.dir)
    files = {"messages": message_path(directory), "book": book_path(directory, args.levels)}
    if not all(path.is_file() for path in files.values()):
        made = generate(directory, args.rows, args.levels)
        print(f"generated {made['rows']:,} rows in {made['seconds']:.0f} s")
    print(f"machine: {machine()}; {datetime.date.today().isoformat()}")
    print(f"command: python benchmarks/bench_data.py --rows {args.rows} --chunk-rows {args.chunk_rows}")
    print(f"{'file':<10} {'size':>9} {'how':<8} {'rows':>11} {'rows/s':>11} {'peak RSS':>10}")
    results = []
    for kind, path in files.items():
        for mode in ("stream", "pandas"):
            out = subprocess.run([sys.executable, __file__, "--chunk-rows", str(args.chunk_rows), "--child", mode,
                                  kind, str(path)], check=True, capture_output=True, text=True).stdout
            result = json.loads(out.strip().splitlines()[-1])
            results.append(result)
            size = path.stat().st_size / KIB ** 2
            print(f"{kind:<10} {size:>7.0f}MB {mode:<8} {result['rows']:>11,} {result['rows_per_second']:>11,.0f} "
                  f"{result['peak_rss_mib']:>7.0f}MiB")
    for kind in files:
        stream, plain = (next(r for r in results if r["file"] == kind and r["mode"] == m) for m in ("stream", "pandas"))
        assert stream["rows"] == plain["rows"], (kind, stream["rows"], plain["rows"])
        for name, value in stream["summary"].items():
            assert np.isclose(value, plain["summary"][name], rtol=1e-9), (kind, name)


if __name__ == "__main__":
    main()
