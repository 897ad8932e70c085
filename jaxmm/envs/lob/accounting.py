"""One step's accounting on a book, shared by the simulated book and the replay environment.

Given the book before and after the step's market flow, the agent's own trades and the flow's
fills of its orders, it returns the reward components, the reward, the state fields both
environments keep (cash, inventory, PnL, markout rings, observation statistics) and the
step's ``info``. Units: ticks inside, price units (``tick_size``) in the components and info.

The components are ``jaxmm.envs.lob.config.LOB_REWARD_COMPONENTS``, in that order: the
mark-to-mid wealth change before fees, the running inventory penalty ``-q^2 dt``, adverse
selection (the mid's move since the fills of ``markout_horizon`` steps ago), minus the orders
sent and cancelled, fees (maker rebates less taker fees), and spread capture (passive fills
against the step's starting mid, less the market orders' slippage against it).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxmm.envs.lob import book as lob, observation as ob


def step_accounting(state: Any, params: Any, *, quoted_book: lob.Book, book: lob.Book, mine: Any,
                    flow: Any, mid0: jax.Array, mid: jax.Array, delay: jax.Array, rejected0: jax.Array,
                    window_cancels: jax.Array, market_spread: jax.Array, markout_horizon: int,
                    pipeline_length: int) -> tuple[jax.Array, dict, dict]:
    """(reward, state fields, info) of a step.

    ``quoted_book``: the book after the agent's message arrived, before the flow (the quotes the
    flow meets); ``book``: after the flow; ``mine``: the agent's message outcome (taker fills,
    messages); ``flow``: the flow's fills of the agent's orders and the market volume;
    ``market_spread``: in price units, from the caller's book layout."""
    bid_quoted, ask_quoted = quoted_book.agent_active[lob.BID], quoted_book.agent_active[lob.ASK]
    quoted_spread = (quoted_book.agent_price[lob.ASK] - quoted_book.agent_price[lob.BID]).astype(jnp.float32)
    quote_prices = quoted_book.agent_price.astype(jnp.float32)

    bought, sold = flow.agent_volume[lob.BID], flow.agent_volume[lob.ASK]
    passive_qty = bought - sold
    passive_cost = flow.agent_notional[lob.BID] - flow.agent_notional[lob.ASK]
    inventory = state.inventory + passive_qty + mine.taker_signed
    cash = state.cash - passive_cost.astype(jnp.float32) - mine.taker_notional.astype(jnp.float32)
    wealth_change = (cash + inventory.astype(jnp.float32) * mid) \
        - (state.cash + state.inventory.astype(jnp.float32) * mid0)
    tick = params.tick_size
    fees = params.maker_rebate * (bought + sold).astype(jnp.float32) \
        - params.taker_fee * mine.taker_volume.astype(jnp.float32)
    slot = state.time % markout_horizon
    matured_qty = state.markout_qty[slot]
    adverse = tick * (matured_qty * mid - state.markout_mid[slot])
    markout = tick * (matured_qty * mid - state.markout_cost[slot])
    qf = inventory.astype(jnp.float32)
    qty_f = passive_qty.astype(jnp.float32)
    edge = tick * (qty_f * mid0 - passive_cost.astype(jnp.float32))
    slippage = tick * (mine.taker_notional.astype(jnp.float32) - mine.taker_signed.astype(jnp.float32) * mid0)
    components = jnp.stack([
        tick * wealth_change, -qf * qf * params.dt, adverse,
        -mine.messages.astype(jnp.float32), fees, edge - slippage]).astype(jnp.float32)
    reward = jnp.dot(params.reward_weights, components)

    time = state.time + 1
    change = mid - mid0
    pnl = state.pnl + components[0] + fees
    fields = dict(
        time=time, mid=mid, cash=cash, inventory=inventory, pnl=pnl,
        inventory_history=state.inventory_history.at[time % pipeline_length].set(inventory),
        mid_returns=ob.update_returns(state.mid_returns, change),
        realised_var=ob.ewma(state.realised_var, change * change),
        flow_imbalance=ob.ewma(state.flow_imbalance, (flow.market_volume[lob.BID]
                               - flow.market_volume[lob.ASK]).astype(jnp.float32) / params.volume_scale),
        markout_qty=state.markout_qty.at[slot].set(qty_f),
        markout_cost=state.markout_cost.at[slot].set(passive_cost.astype(jnp.float32)),
        markout_mid=state.markout_mid.at[slot].set(qty_f * mid0))
    taker_bought = jnp.maximum(mine.taker_signed, 0)
    taker_sold = jnp.maximum(-mine.taker_signed, 0)
    info = {
        "reward_components": components,
        "pnl": pnl,
        "inventory": qf,
        "bid_fill": (bought + taker_bought).astype(jnp.float32),
        "ask_fill": (sold + taker_sold).astype(jnp.float32),
        "bid_quoted": bid_quoted.astype(jnp.float32),
        "ask_quoted": ask_quoted.astype(jnp.float32),
        "spread": jnp.where(bid_quoted & ask_quoted, tick * quoted_spread, 0.0),
        "maker_volume": (bought + sold).astype(jnp.float32),
        "taker_volume": mine.taker_volume.astype(jnp.float32),
        "fill_price_edge": edge,
        "markout": markout,
        "markout_volume": jnp.abs(matured_qty),
        "adverse_selection": adverse,
        "queue_position_at_fill": jnp.sum(flow.agent_entry_ahead).astype(jnp.float32),
        "slippage": slippage,
        "fees": fees,
        "overflow_events": (book.rejected - rejected0).astype(jnp.float32),
        "book_events": (flow.events + mine.messages).astype(jnp.float32),
        "window_cancels": window_cancels.astype(jnp.float32),
        "market_spread": market_spread,
        # Read by the evaluation metrics (jaxmm.evaluation.accumulate); price units.
        "mid_change": tick * change,
        "maker_bought": bought.astype(jnp.float32),
        "maker_sold": sold.astype(jnp.float32),
        "taker_qty": mine.taker_signed.astype(jnp.float32),  # signed units (+ bought)
        "bid_distance": jnp.where(bid_quoted, tick * (mid0 - quote_prices[lob.BID]), 0.0),
        "ask_distance": jnp.where(ask_quoted, tick * (quote_prices[lob.ASK] - mid0), 0.0),
        "message_delay": delay.astype(jnp.float32),  # steps until this step's message arrives
        "agent_messages": mine.messages.astype(jnp.float32),
    }
    return reward, fields, info
