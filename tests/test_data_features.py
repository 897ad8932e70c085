"""Book and trade features against hand computations on tiny examples."""

from __future__ import annotations

import numpy as np
import pytest

from jaxmm.data import features as F

# Three snapshots, two levels; the second bid level of the first snapshot is empty.
BID_PRICE = np.array([[99.0, np.nan], [99.0, 98.0], [100.0, 99.0]])
BID_SIZE = np.array([[3.0, 0.0], [1.0, 2.0], [4.0, 4.0]])
ASK_PRICE = np.array([[101.0, 102.0], [100.0, 101.0], [102.0, 103.0]])
ASK_SIZE = np.array([[1.0, 5.0], [3.0, 1.0], [4.0, np.nan]])


def test_mid_spread_and_microprice():
    np.testing.assert_allclose(F.mid_price(BID_PRICE, ASK_PRICE), [100.0, 99.5, 101.0])
    np.testing.assert_allclose(F.spread(BID_PRICE, ASK_PRICE), [2.0, 1.0, 2.0])
    # (99 * 1 + 101 * 3) / 4 = 100.5; (99 * 3 + 100 * 1) / 4 = 99.25; equal sizes: the mid.
    np.testing.assert_allclose(F.microprice(BID_PRICE, BID_SIZE, ASK_PRICE, ASK_SIZE), [100.5, 99.25, 101.0])
    assert np.isnan(F.microprice([99.0], [0.0], [101.0], [0.0])[0])
    np.testing.assert_allclose(F.mid_price(BID_PRICE[:, 0], ASK_PRICE[:, 0]), [100.0, 99.5, 101.0])


def test_depth_per_level():
    np.testing.assert_array_equal(F.depth(ASK_SIZE), [[1, 5], [3, 1], [4, 0]])
    np.testing.assert_array_equal(F.depth(BID_SIZE, cumulative=True), [[3, 3], [1, 3], [4, 8]])
    np.testing.assert_array_equal(F.depth(BID_SIZE, levels=1), [[3], [1], [4]])


def test_imbalance_top_and_over_levels():
    # top: (3-1)/4, (1-3)/4, 0; two levels: (3-6)/9, (3-4)/7, (8-4)/12.
    np.testing.assert_allclose(F.imbalance(BID_SIZE, ASK_SIZE), [0.5, -0.5, 0.0])
    np.testing.assert_allclose(F.imbalance(BID_SIZE, ASK_SIZE, levels=2), [-3 / 9, -1 / 7, 4 / 12])
    assert np.isnan(F.imbalance([[0.0]], [[0.0]])[0])


def test_realized_volatility_over_a_window():
    mid = np.array([100.0, 101.0, 100.0, 102.0])
    r = np.log([101 / 100, 100 / 101, 102 / 100])
    expected = [np.nan, np.nan, np.sqrt(r[0] ** 2 + r[1] ** 2), np.sqrt(r[1] ** 2 + r[2] ** 2)]
    np.testing.assert_allclose(F.realized_volatility(mid, window=2), expected)
    with_gap = F.realized_volatility([100.0, np.nan, 100.0, 101.0, 102.0], window=2)
    assert np.isnan(with_gap[:4]).all() and with_gap[4] == pytest.approx(np.hypot(np.log(1.01), np.log(102 / 101)))


def test_trade_flow_imbalance_over_the_last_trades():
    side = np.array(["buy", "sell", "buy", "buy"])
    size = np.array([1.0, 3.0, 2.0, 2.0])
    # windows of 2 trades: (1-3)/4, (-3+2)/5, (2+2)/4.
    np.testing.assert_allclose(F.trade_flow_imbalance(side, size, window=2), [np.nan, -0.5, -0.2, 1.0])
    np.testing.assert_allclose(F.trade_flow_imbalance([1, -1, 1, 1], size, window=2), [np.nan, -0.5, -0.2, 1.0])


def test_market_order_arrival_rates_and_sizes():
    time = np.array([0.0, 0.5, 1.2, 1.9, 3.0])
    side = np.array([1, -1, 1, 1, -1])
    rates = F.arrival_rates(time, side, bin_seconds=2.0)
    np.testing.assert_array_equal(rates.bin_start, [0.0, 2.0])
    np.testing.assert_allclose(rates.buy, [1.5, 0.0])  # 3 buys in [0, 2) over 2 s
    np.testing.assert_allclose(rates.sell, [0.5, 0.5])
    sizes = F.size_distribution([1.0, 1.0, 2.0, 5.0], bins=[0.0, 2.0, 4.0, 6.0])
    np.testing.assert_allclose(sizes.probability, [0.5, 0.25, 0.25])
    assert sizes.mean == 2.25


def test_markouts_in_rows_and_seconds():
    book_time = np.array([0.0, 1.0, 2.0, 3.0])
    mid = np.array([100.0, 100.5, 101.0, 99.0])
    trade_time = np.array([0.5, 1.0, 2.5, -1.0])
    trade_price = np.array([100.1, 100.6, 101.1, 100.0])
    side = np.array(["buy", "sell", "buy", "buy"])
    # rows: trade 0 sits on book row 0 -> mid of row 1 = 100.5: +(100.5-100.1); trade 1 row 1 -> row 2:
    # -(101-100.6); trade 2 row 2 -> row 3: +(99-101.1); trade 3 precedes the book: NaN.
    np.testing.assert_allclose(F.markouts(trade_time, trade_price, side, book_time, mid, 1, unit="rows"),
                               [0.4, -0.4, -2.1, np.nan])
    # seconds: 0.5+1 -> row 1 (100.5); 1+1 -> row 2 (101); 2.5+1 runs past the last row: NaN.
    np.testing.assert_allclose(F.markouts(trade_time, trade_price, side, book_time, mid, 1.0),
                               [0.4, -0.4, np.nan, np.nan])
    with pytest.raises(ValueError, match="unit"):
        F.markouts(trade_time, trade_price, side, book_time, mid, 1.0, unit="ticks")
