"""Market data: streaming readers, writers and checks for LOBSTER and exchange-style feeds, and features.

Readers return a :class:`DataStream`: iterate it for typed chunks (bounded
memory), call ``read()`` for one frame or ``scan()`` to validate only; its
``summary`` counts rows, events and skipped rows. Every problem in a file
raises :class:`jaxmm.errors.DataError` naming the file, the row and the problem.
Writers take a frame or an iterable of frames (a stream included); the
storage follows the file name: ``.parquet``/``.pq``, ``.gz`` (gzipped CSV) or CSV.

Beyond the readers (imported on demand; the simulator-facing ones import JAX):
:mod:`~jaxmm.data.events` (book events as int32 rows, the replay's input),
:mod:`~jaxmm.data.streams` (LOBSTER and L2 + trades files as event streams, with queue
offsets), :mod:`~jaxmm.data.recorder` and :mod:`~jaxmm.data.model_market` (simulated markets
as event streams), :mod:`~jaxmm.data.export` (event streams written as LOBSTER, L2 and trade
files), :mod:`~jaxmm.data.market_features`, :mod:`~jaxmm.data.estimators` and
:mod:`~jaxmm.data.calibration` (fitting the environments), :mod:`~jaxmm.data.calibrate_cli`
(the ``calibrate`` command) and :mod:`~jaxmm.data.sample_data` (``data/samples/``).
"""

from jaxmm.data.book import BookArrays, book_arrays, level_column, level_columns
from jaxmm.data.exchange import (read_book_snapshots, read_l2_updates, read_trades, write_book_snapshots,
                                 write_l2_updates, write_trades)
from jaxmm.data.inspect import detect_format, inspect_file, register
from jaxmm.data.lobster import (EventType, lobster_trades, read_lobster_book, read_lobster_messages,
                                write_lobster_book, write_lobster_messages)
from jaxmm.data.stream import DataStream, ReadSummary

__all__ = [
    "BookArrays", "DataStream", "EventType", "ReadSummary", "book_arrays", "detect_format", "inspect_file",
    "level_column", "level_columns", "lobster_trades", "read_book_snapshots", "read_l2_updates",
    "read_lobster_book", "read_lobster_messages", "read_trades", "register", "write_book_snapshots",
    "write_l2_updates", "write_lobster_book", "write_lobster_messages", "write_trades",
]
