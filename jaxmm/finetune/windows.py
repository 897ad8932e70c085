"""Time windows of a market-data file: the fine-tune's window, its held-out window, walk-forward windows.

A window is ``[start, end)`` in seconds after the file's first row. ``--window`` takes what
``jaxmm calibrate`` takes (``600:1200``, or clock times on the file's own clock, parsed by
:func:`jaxmm.data.calibrate_cli.parse_window`); a window that is empty or reaches outside the
data is one line naming the window and the data's span.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from jaxmm.errors import ConfigError, DataError

SECONDS_FORMAT = "{:g}"


@dataclasses.dataclass(frozen=True)
class Window:
    start: float  # seconds after the data's first row
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def spec(self) -> str:
        """``START:END`` in seconds after the first row (the form ``env.window`` and calibration read)."""
        return f"{SECONDS_FORMAT.format(self.start)}:{SECONDS_FORMAT.format(self.end)}"

    def following(self, seconds: float) -> "Window":
        """The window of ``seconds`` right after this one (the held-out window)."""
        return Window(self.end, self.end + seconds)


@dataclasses.dataclass(frozen=True)
class DataSpan:
    """What a data file covers: its first row's time (the data's clock) and its length in seconds."""

    data: str
    trades: str | None
    first: float
    seconds: float
    epoch: bool  # exchange feeds: clock times are UTC on the epoch's day

    def check(self, window: Window, what: str = "--window") -> Window:
        if window.end <= window.start:
            raise ConfigError(f"{what} {window.spec} is empty: the end is not after the start")
        if window.start < 0 or window.end > self.seconds + _EPSILON:
            raise DataError(f"{self.data}: {what} {window.spec} reaches outside the data, which spans "
                            f"0:{SECONDS_FORMAT.format(self.seconds)} seconds after its first row")
        return window


_EPSILON = 1e-9


def data_span(data: str | Path, trades: str | Path | None = None, step_seconds: float = 1.0) -> DataSpan:
    """Read and check the whole file once (validation errors name file and row)."""
    from jaxmm.data import exchange
    from jaxmm.data.calibrate_cli import load_stream

    if not Path(data).is_file():
        raise DataError(f"{data}: file not found (--data)")
    stream, fmt = load_stream(data, trades, step_seconds=step_seconds)
    return DataSpan(str(data), None if trades is None else str(trades), float(stream.start_time),
                    float(stream.num_steps * step_seconds), epoch=fmt == exchange.FORMAT_L2)


def parse(text: str, span: DataSpan) -> Window:
    """``START:END`` (seconds after the first row or clock times; an end left out is the data's end)."""
    from jaxmm.data.calibrate_cli import parse_window

    if not text or not text.strip():
        raise ConfigError("--window is empty; give START:END, e.g. 600:1200")
    start, end = parse_window(text, span.first, span.epoch)
    window = Window(0.0 if start is None else start - span.first,
                    span.seconds if end is None else end - span.first)
    return span.check(window)


def held_out(window: Window, span: DataSpan, seconds: float | None) -> Window:
    """The window after ``window`` (as long as it unless ``seconds``), which must lie inside the data."""
    return span.check(window.following(window.seconds if seconds is None else seconds), "held-out window")


def walk_forward(span: DataSpan, start: float, train_seconds: float, step_seconds: float,
                 eval_seconds: float | None = None) -> list[tuple[Window, Window]]:
    """(training window, held-out window) pairs: training windows of ``train_seconds`` every
    ``step_seconds`` from ``start``, each evaluated on the ``eval_seconds`` after it (default: the
    step), as long as the held-out window lies inside the data."""
    if not (train_seconds > 0 and step_seconds > 0):
        raise ConfigError(f"--train-window and --step must be > 0 seconds, got {train_seconds:g} and "
                          f"{step_seconds:g}")
    eval_seconds = step_seconds if eval_seconds is None else eval_seconds
    pairs = []
    count = math.floor((span.seconds - start - train_seconds - eval_seconds) / step_seconds + _EPSILON) + 1
    for index in range(max(count, 0)):
        train = Window(start + index * step_seconds, start + index * step_seconds + train_seconds)
        pairs.append((train, train.following(eval_seconds)))
    if not pairs:
        raise DataError(f"{span.data}: no walk-forward window fits: the data spans "
                        f"{SECONDS_FORMAT.format(span.seconds)} s after {SECONDS_FORMAT.format(start)} s, a "
                        f"training window and its held-out window need {train_seconds + eval_seconds:g} s")
    return pairs
