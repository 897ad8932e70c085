"""The order-book simulator's flow as book events: what a recording of the simulated market holds.

``recorded_flow_step`` draws what ``jaxmm.envs.lob.flow.flow_step`` draws, with
the flow's own draw functions (``draw_cancels``, ``draw_limits``, ``draw_takers``)
on the same uniforms in the same order, and applies the events one by
one with the book's single-event handlers (equal to the flow's batched phases,
``tests/test_lob_batch.py``); it returns, beside the new book, each event as an
int32 row (:mod:`jaxmm.data.events`): ``REMOVE`` with the units actually
removed and their queue offset, ``ADD`` for accepted limit orders, and per
side two ``TAKE`` rows (the uninformed market order's units, then the
informed trader's), then a ``SHIFT`` to the re-centred window. Replaying the
rows through :mod:`jaxmm.envs.replay.book` rebuilds the simulator's book, the
agent's queue position and fills included (``tests/test_replay_env.py``).

``simulate_events`` runs the flow alone (no agent) from the warmed initial
book of a :class:`~jaxmm.envs.lob.config.LobEnvConfig` and returns an
:class:`~jaxmm.data.events.EventStream`: the input of the exporters
(:mod:`jaxmm.data.export`) and of the round-trip calibration tests.
``record_transition`` is one full environment step with the agent, recorded.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxmm.data.events import KIND, PRICE, SIZE, EventKind, EventStream
from jaxmm.envs.lob import book as lob, observation as ob
from jaxmm.envs.lob.flow import (Draws, FlowParams, draw_cancels, draw_limits, draw_takers, fair_value_step,
                                 flow_uniforms, uniforms_from_bits)
from jaxmm.envs.replay.agent_step import deliver_message

TAKES_PER_SIDE = 2  # the uninformed market order's units, then the informed trader's
SIMULATION_CHUNK = 512  # steps per call of the compiled simulation


def events_per_step(limit_slots: int, cancel_slots: int) -> int:
    """Rows one recorded step emits (inactive slots included, as size 0)."""
    return lob.NUM_SIDES * (cancel_slots + limit_slots + TAKES_PER_SIDE) + 1


def _row(kind, side, price, size, offset=0) -> jax.Array:
    return jnp.stack([jnp.int32(kind), jnp.int32(side), jnp.asarray(price, jnp.int32),
                      jnp.asarray(size, jnp.int32), jnp.asarray(offset, jnp.int32)])


def _cancels(book: lob.Book, side: int, draws: Draws, p: FlowParams, slots: int, rows: list):
    fired = []
    for price, offset, size, active in draw_cancels(book, side, draws, p, slots):
        level = lob.at_levels(book.volume[side], price - book.origin)
        start = jnp.clip(offset, 0, level)
        before = book.cancelled[side]
        book = lob.cancel(book, side, price, size, offset)
        rows.append(_row(EventKind.REMOVE, side, price, book.cancelled[side] - before, start))
        fired.append(active)
    return book, fired


def _limits(book: lob.Book, side: int, draws: Draws, p: FlowParams, mid, slots: int, rows: list):
    fired = []
    for price, size, active in draw_limits(book, side, draws, p, mid, slots):
        before = book.added[side]
        book = lob.post(book, side, price, size, p.level_capacity)
        rows.append(_row(EventKind.ADD, side, price, book.added[side] - before))
        fired.append(active)
    return book, fired


def _takers(book: lob.Book, draws: Draws, p: FlowParams, fair_value, excitation, rows: list, informed: list,
            notionals: list):
    market, informed_size, limits = draw_takers(draws, p, fair_value, excitation)
    arrivals = []
    for side in (lob.BID, lob.ASK):
        active, size = market[side]
        edge = lob.window_edge(book, side)
        # The simulator's one walk, split: the market order's units first, then the informed trader's.
        _, combined, informed_traded = lob.take_then_sweep(book, side, size, informed_size, limits[side])
        market_part = jnp.minimum(size, combined.volume)
        for part, is_informed in ((market_part, False), (combined.volume - market_part, True)):
            book, trade = lob.take(book, side, part, edge)
            rows.append(_row(EventKind.TAKE, side, edge, part))
            notionals.append(trade.notional)
            informed.append(is_informed)
        arrivals.append(active | informed_traded)
    return book, jnp.stack(arrivals)


def recorded_flow_step(book: lob.Book, uniforms: jax.Array, p: FlowParams, mid: jax.Array,
                       fair_value: jax.Array, excitation: jax.Array, limit_slots: int, cancel_slots: int,
                       half_width: int):
    """One step of background flow, then the window re-centred on the new mid.

    Returns (book, mid, fair value, excitation, rows int32 (E, 5), informed bool (E,),
    notional int32 (E,): ticks * units traded by each TAKE row, 0 on other rows),
    E = :func:`events_per_step`; inactive slots are rows of size 0.
    """
    draws = Draws(uniforms)
    rows, informed = [], []
    for side in (lob.BID, lob.ASK):
        book, _ = _cancels(book, side, draws, p, cancel_slots, rows)
    for side in (lob.BID, lob.ASK):
        book, _ = _limits(book, side, draws, p, mid, limit_slots, rows)
    informed += [False] * len(rows)
    notionals = [jnp.int32(0)] * len(rows)
    fair_value = fair_value_step(fair_value, draws, p)
    book, arrivals = _takers(book, draws, p, fair_value, excitation, rows, informed, notionals)
    excitation = p.hawkes_decay * excitation + p.hawkes_jump * arrivals.astype(jnp.float32)
    assert draws.used == flow_uniforms(limit_slots, cancel_slots)
    new_mid = ob.mid_price(book, mid)
    origin = jnp.round(new_mid).astype(jnp.int32) - half_width
    book, _ = lob.shift_window(book, origin)
    rows.append(_row(EventKind.SHIFT, lob.BID, origin, 0))
    informed.append(False)
    notionals.append(jnp.int32(0))
    return (book, new_mid, fair_value, excitation, jnp.stack(rows), jnp.asarray(informed),
            jnp.stack(notionals).astype(jnp.int32))


def record_transition(env, noise: jax.Array, state, action, params):
    """One ``LobEnv`` step with its flow recorded: ``env.transition``'s outputs plus the step's rows.

    Returns (obs, state, reward, terminated, info, rows, informed, book): ``book`` is the book
    the recorded rows lead to, equal to the returned state's book (``tests/test_replay_env.py``).
    """
    uniforms = uniforms_from_bits(noise)
    num_flow = flow_uniforms(env.limit_slots, env.cancel_slots)
    book, _, _, _ = deliver_message(env, uniforms[num_flow], state, action, params, params.flow.level_capacity)
    book, _, _, _, rows, informed, _ = recorded_flow_step(
        book, uniforms[:num_flow], params.flow, state.mid, state.fair_value, state.excitation,
        env.limit_slots, env.cancel_slots, env.half_width)
    obs, new_state, reward, terminated, info = env.transition(noise, state, action, params)
    return obs, new_state, reward, terminated, info, rows, informed, book


def compact(rows: np.ndarray, informed: np.ndarray, step_of_row: np.ndarray, num_steps: int):
    """Drop inactive rows (size 0, and shifts that leave the window where it was); returns
    (events, informed, step_start)."""
    rows = rows.reshape(-1, rows.shape[-1])
    informed = informed.reshape(-1)
    step_of_row = step_of_row.reshape(-1)
    shift = rows[:, KIND] == EventKind.SHIFT
    shift_origins = rows[shift, PRICE]
    moved = np.ones(len(shift_origins), bool)
    moved[1:] = shift_origins[1:] != shift_origins[:-1]
    keep = rows[:, SIZE] > 0
    keep[np.flatnonzero(shift)] = moved
    step_start = np.searchsorted(step_of_row[keep], np.arange(num_steps + 1), side="left")
    return rows[keep], informed[keep], step_start.astype(np.int64)


@partial(jax.jit, static_argnames=("limit_slots", "cancel_slots", "half_width"))
def _simulate(book, mid, fair_value, flow: FlowParams, keys, *, limit_slots: int, cancel_slots: int,
              half_width: int, excitation=None, valid=None):
    """One recorded flow step per key from (book, mid, fair value); returns (per-step records, final
    state). Steps where ``valid`` is false leave the state as it is (padding of a chunk)."""
    words = (flow_uniforms(limit_slots, cancel_slots) + 1) // 2
    valid = jnp.ones(keys.shape[:1], bool) if valid is None else valid

    def body(carry, inputs):
        step_key, live = inputs
        book, mid, fair_value, excitation = carry
        uniforms = uniforms_from_bits(jax.random.bits(step_key, (words,), dtype=jnp.uint32))
        start = (book.volume, book.origin, mid, fair_value)
        new = recorded_flow_step(book, uniforms, flow, mid, fair_value, excitation, limit_slots, cancel_slots,
                                 half_width)
        carry = jax.tree.map(lambda a, b: jnp.where(live, a, b), tuple(new[:4]), carry)
        return carry, (new[4], new[5], new[6], start)

    excitation = jnp.zeros((lob.NUM_SIDES,), jnp.float32) if excitation is None else excitation
    (book, mid, fair_value, excitation), out = jax.lax.scan(body, (book, mid, fair_value, excitation), (keys, valid))
    return out, (book, mid, fair_value, excitation)


def _simulate_in_chunks(book, mid, fair_value, flow: FlowParams, keys, cfg):
    """``_simulate`` over any number of keys in chunks of ``SIMULATION_CHUNK`` steps: one compiled
    program per book shape, whatever the length."""
    steps = keys.shape[0]
    padded = -(-steps // SIMULATION_CHUNK) * SIMULATION_CHUNK
    keys = jnp.concatenate([keys, jnp.broadcast_to(keys[:1], (padded - steps,) + keys.shape[1:])])
    valid = jnp.arange(padded) < steps
    excitation = jnp.zeros((lob.NUM_SIDES,), jnp.float32)
    outputs = []
    for chunk in range(padded // SIMULATION_CHUNK):
        part = slice(chunk * SIMULATION_CHUNK, (chunk + 1) * SIMULATION_CHUNK)
        out, (book, mid, fair_value, excitation) = _simulate(
            book, mid, fair_value, flow, keys[part], limit_slots=cfg.limit_slots, cancel_slots=cfg.cancel_slots,
            half_width=cfg.half_width, excitation=excitation, valid=valid[part])
        outputs.append(jax.tree.map(np.asarray, out))
    out = jax.tree.map(lambda *parts: np.concatenate(parts)[:steps], *outputs)
    return out, (book, mid, fair_value)


def warmed_book(cfg, flow: FlowParams):
    """The initial book of ``cfg`` as ``jaxmm.envs.lob.build.warm_book`` builds it (same keys, and the
    recorded flow equals the flow), from a program compiled once per book shape; the fair value may
    differ from warm_book's in the last bit (float rounding of another compiled program)."""
    from jaxmm.envs.lob.build import WARMUP_SEED

    start = lob.empty_book(cfg.num_levels, -cfg.half_width)
    keys = jax.random.split(jax.random.key(WARMUP_SEED), cfg.warmup_steps)
    _, (book, mid, fair_value) = _simulate_in_chunks(start, jnp.float32(0.0), jnp.float32(0.0), flow, keys, cfg)
    return book, mid, fair_value


def simulate_event_segments(cfg, segment_steps: int, segments: int, seed: int = 0, step_seconds: float = 1.0):
    """The flow of ``cfg`` from its warmed book as ``segments`` consecutive streams of ``segment_steps``
    steps, each continuing the last (the first equals :func:`simulate_events`'s first steps); yields
    (first step, stream)."""
    from jaxmm.envs.lob.build import flow_params

    flow = flow_params(cfg)
    state = warmed_book(cfg, flow)
    key = jax.random.key(seed)
    for segment in range(segments):
        first = segment * segment_steps
        keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, first + jnp.arange(segment_steps))
        (rows, informed, _, start), state = _simulate_in_chunks(*state, flow, keys, cfg)
        yield first, _stream(cfg, rows, informed, start, segment_steps, step_seconds, start_time=0.0)[0]


def _stream(cfg, rows, informed, start, steps: int, step_seconds: float, start_time: float):
    volume, origin, mids, fair_values = start
    step_of_row = np.repeat(np.arange(steps), rows.shape[1])
    events, informed, step_start = compact(rows, informed, step_of_row, steps)
    stream = EventStream(events=events, step_start=step_start, start_volume=volume.astype(np.int32),
                         start_origin=origin.astype(np.int32), start_mid=mids.astype(np.float32),
                         tick=float(cfg.tick_size), price_origin=float(cfg.reference_price),
                         step_seconds=float(step_seconds), start_time=float(start_time), informed=informed)
    return stream, fair_values.astype(np.float64)


def simulate_events(cfg, steps: int, seed: int = 0, step_seconds: float = 1.0,
                    start_time: float = 0.0) -> tuple[EventStream, np.ndarray]:
    """``steps`` steps of the flow of ``cfg`` (a ``LobEnvConfig``) from its warmed initial book.

    Returns (stream, fair value at each step start, float64 (S,)); the stream's ticks
    are the simulator's (``price_origin`` is ``cfg.reference_price``, ``tick`` is
    ``cfg.tick_size``) and its informed flags mark the informed traders' TAKE rows.
    """
    from jaxmm.envs.lob.build import flow_params

    flow = flow_params(cfg)
    book, mid, fair_value = warmed_book(cfg, flow)
    keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(jax.random.key(seed), jnp.arange(steps))  # prefix-stable
    (rows, informed, _, start), _ = _simulate_in_chunks(book, mid, fair_value, flow, keys, cfg)
    return _stream(cfg, rows, informed, start, steps, step_seconds, start_time)
