"""The agent's half of a book step, shared by the replay environment and the flow recorder.

The same sequence as ``LobEnv.transition`` before the flow: the action becomes
an order message priced at the current mid (or touch), enters the latency
pipeline, and the message due now reaches the book (``jaxmm.envs.lob.agent``).
With ``market_impact`` false the agent's market order walks the book for its
prices but leaves the recorded volume in place (recorded data: the market did
not see the agent's order); with it true the order consumes the volume as in
the simulator.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxmm.envs.lob import agent, book as lob


def deliver_message(env, jitter_uniform: jax.Array, state, action, params, capacity: jax.Array,
                    market_impact: bool = True):
    """Returns (book, agent outcome, pending, pending_valid) after the message due now reached the book."""
    book = state.book
    _, best_bid = lob.best_price(book, lob.BID)
    _, best_ask = lob.best_price(book, lob.ASK)
    message = agent.decode(env.action_vector(action, state, params), state.mid, best_bid, best_ask,
                           state.inventory, params.max_quote_offset, params.max_quote_size,
                           env.quote_from_touch)
    jitter = jnp.floor(jitter_uniform * (params.latency_jitter + 1).astype(jnp.float32))
    delay = jnp.minimum(params.latency + jitter.astype(jnp.int32), env.pipeline_length - 1)
    pending, valid = agent.send(state.pending, state.pending_valid, message, state.time, delay)
    due, arrived, valid = agent.receive(pending, valid, state.time)
    if market_impact:
        book, mine = agent.apply_message(book, due, arrived, capacity, state.inventory, params.max_inventory)
        return book, mine, pending, valid
    # The market order is priced on the book as it is, which then stays as recorded.
    qty = jnp.where(arrived, due[agent.MARKET_QTY], 0)
    inventory = state.inventory
    qty = jnp.where(inventory > 0, jnp.clip(qty, -inventory, 0), jnp.clip(qty, 0, -inventory))
    _, bought = lob.agent_take(book, lob.BID, jnp.maximum(qty, 0))
    _, sold = lob.agent_take(book, lob.ASK, jnp.maximum(-qty, 0))
    quotes_only = due.at[agent.MARKET_QTY].set(0)
    book, quoted = agent.apply_message(book, quotes_only, arrived, capacity,
                                       inventory + bought.volume - sold.volume, params.max_inventory)
    mine = agent.AgentOutcome(messages=quoted.messages + (qty != 0).astype(jnp.int32),
                              taker_volume=bought.volume + sold.volume,
                              taker_notional=bought.notional - sold.notional,
                              taker_signed=bought.volume - sold.volume)
    return book, mine, pending, valid
