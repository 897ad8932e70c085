"""Column layout of top-N book snapshots and their conversion to (T, levels) arrays.

Both snapshot formats (LOBSTER order-book files and exchange ``book_snapshot``
files) are read into frames whose level columns are named like the exchange
exports: ``asks[0].price, asks[0].amount, bids[0].price, bids[0].amount, ...``,
level 0 being the best. LOBSTER level ``k`` (1-based) is column ``asks[k-1]``.
An empty level has NaN price and NaN amount in a frame; :func:`book_arrays`
turns a frame into arrays with NaN price and size 0 there, ready for
:mod:`jaxmm.data.features`.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np
import pandas as pd

ASK = "ask"
BID = "bid"
SIDES = (ASK, BID)
PRICE = "price"
AMOUNT = "amount"
FIELDS_PER_LEVEL = 4  # ask price, ask size, bid price, bid size
_LEVEL_COLUMN = re.compile(r"^(asks|bids)\[(\d+)\]\.(price|amount)$")


def level_column(side: str, level: int, field: str) -> str:
    """Name of one level column, e.g. ``level_column("bid", 0, "price") == "bids[0].price"``."""
    return f"{side}s[{level}].{field}"


def level_columns(levels: int) -> list[str]:
    """The 4 * ``levels`` level columns in file order (ask price, ask amount, bid price, bid amount per level)."""
    return [level_column(side, level, field)
            for level in range(levels) for side in SIDES for field in (PRICE, AMOUNT)]


def count_levels(columns) -> int:
    """Number of levels named by ``columns`` (one more than the deepest ``asks[i]``/``bids[i]`` index)."""
    indices = [int(match.group(2)) for match in map(_LEVEL_COLUMN.match, map(str, columns)) if match]
    return max(indices) + 1 if indices else 0


def exchange_label(side: str, level: int, field: str) -> str:
    """How a level cell is named in messages about exchange files: ``asks[1].amount``."""
    return level_column(side, level, AMOUNT if field == "size" else field)


class BookArrays(NamedTuple):
    """Top-N book snapshots as float64 arrays of shape (T, levels), level 0 the best.

    Empty levels have NaN price and size 0.
    """

    bid_price: np.ndarray
    bid_size: np.ndarray
    ask_price: np.ndarray
    ask_size: np.ndarray


def side_arrays(frame: pd.DataFrame, side: str, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """(price, amount) of one side of a snapshot frame as (T, levels) float64 arrays (NaN where empty)."""
    price = frame[[level_column(side, i, PRICE) for i in range(levels)]].to_numpy(dtype=np.float64)
    amount = frame[[level_column(side, i, AMOUNT) for i in range(levels)]].to_numpy(dtype=np.float64)
    return price, amount


def book_arrays(frame: pd.DataFrame) -> BookArrays:
    """The level columns of a snapshot frame (either format) as :class:`BookArrays`."""
    levels = count_levels(frame.columns)
    bid_price, bid_size = side_arrays(frame, BID, levels)
    ask_price, ask_size = side_arrays(frame, ASK, levels)
    return BookArrays(bid_price, np.nan_to_num(bid_size, nan=0.0), ask_price, np.nan_to_num(ask_size, nan=0.0))
