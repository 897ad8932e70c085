"""Order-book environment throughput: env steps/s against the number of parallel envs.

A fixed policy (symmetric quotes one tick from the mid, unit size) runs
``--steps`` steps inside one jitted ``lax.scan``; each step draws the noise of
the whole batch with one ``sample_noise(key, (B,))`` call and applies the
vmapped ``transition`` (auto-reset as in gymnax). Compilation and a warm-up run
are excluded; timings end with ``block_until_ready``.

Both book layouts (``env.layout``: per_book, batch) are measured by default, and per
phase (``--phases``): the background flow, the agent's order message, the window
shift and the observation, each jitted alone over the batch (``ns/book`` per step;
the parts overlap with the whole step by fusion). Every row names the machine, the
CPU model, the device and the jax version.

``--reduce F`` makes the fixed policy send a market order for that share of its inventory
every step (0, the default, sends none; in the batch layout a step where no book sends one
skips the agent's walk through the book, so both cases are worth measuring).

    python benchmarks/bench_lob.py [key=value ...] [--batches 1 64 1024 8192] [--steps 200] [--reduce F]
                                   [--layouts per_book batch] [--phases] [--out FILE]

Config overrides (``key=value``) go first: after ``--batches`` or ``--layouts`` argparse
takes them as that flag's values.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import host
import jax
import jax.numpy as jnp

from jaxmm.config import load_config
from jaxmm.envs import make_env
from jaxmm.envs.lob import agent
from jaxmm.envs.lob.flow import flow_uniforms, uniforms_from_bits
from jaxmm.envs.lob.layout import LAYOUTS
from jaxmm.errors import ConfigError, run_guarded

ACTION = (1.0, 1.0, 1.0, 1.0, 0.0)  # bid/ask one tick from the mid, unit sizes, no market order


def fixed_action(reduce: float = 0.0) -> jax.Array:
    """The benchmark's action, sending a market order for ``reduce`` of the inventory."""
    return jnp.asarray(ACTION, jnp.float32).at[agent.REDUCE].set(reduce)


def make_runner(env, params, batch: int, steps: int, reduce: float = 0.0):
    action = jnp.broadcast_to(fixed_action(reduce), (batch, len(ACTION)))
    if env.action_type == "discrete":  # a learner's grid: its first row
        action = jnp.zeros((batch,), jnp.int32)
    transition = jax.vmap(env.transition, in_axes=(0, 0, 0, None))
    _, initial = jax.vmap(env.reset_env, in_axes=(0, None))(jax.random.split(jax.random.key(0), batch),
                                                            params)

    def step(carry, key):
        state, events, checksum = carry
        noise = env.sample_noise(key, (batch,))
        obs, state, reward, _, info = transition(noise, state, action, params)
        done = state.time >= params.max_steps_in_episode
        state = jax.tree.map(lambda r, s: jnp.where(done.reshape((-1,) + (1,) * (s.ndim - 1)), r, s),
                             initial, state)
        # Observation and reward are consumed, as a learner would: otherwise XLA drops their computation.
        checksum = checksum + jnp.sum(obs) + jnp.sum(reward)
        return (state, events + jnp.sum(info.get("book_events", 0.0)), checksum), None  # 0: no book

    @jax.jit
    def run(state, key):
        zero = jnp.float32(0.0)
        (state, events, _), _ = jax.lax.scan(step, (state, zero, zero), jax.random.split(key, steps))
        return state, events

    return run, initial


def cpu_model() -> str:
    return host.cpu_model() or platform.processor() or "unknown"


def machine() -> dict:
    """What every row records about where it was measured."""
    device = jax.devices()[0]
    return {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "cpu": cpu_model(),
            "device": f"{device.platform}:{device.device_kind}", "jax": jax.__version__}


def make_phase_runners(env, params, batch: int, steps: int, reduce: float = 0.0):
    """Each phase of the step alone, vmapped over the batch through the env's layout.
    Returns {phase: (jitted run(state, key) -> (state, events), initial state)}."""
    ops = env.book_ops
    num_flow = flow_uniforms(env.limit_slots, env.cancel_slots)
    _, initial = jax.vmap(env.reset_env, in_axes=(0, None))(jax.random.split(jax.random.key(0), batch),
                                                            params)
    action = fixed_action(reduce)

    def flow(state, key):
        uniforms = uniforms_from_bits(env.sample_noise(key, (batch,)))[:, :num_flow]
        book, fair_value, excitation, outcome = jax.vmap(
            lambda b, u, m, f, e: ops.flow_step(b, u, params.flow, m, f, e, env.limit_slots,
                                                env.cancel_slots))(
            state.book, uniforms, state.mid, state.fair_value, state.excitation)
        return state.replace(book=book, fair_value=fair_value, excitation=excitation), outcome.events

    def agent_message(state, key):
        def one(book, mid, inventory):
            _, bid = ops.best_price(book, 0)
            _, ask = ops.best_price(book, 1)
            message = agent.decode(action, mid, bid, ask, inventory, params.max_quote_offset,
                                   params.max_quote_size, env.quote_from_touch)
            return ops.apply_message(book, message, jnp.array(True), params.flow.level_capacity,
                                     inventory, params.max_inventory)
        book, mine = jax.vmap(one)(state.book, state.mid, state.inventory)
        return state.replace(book=book), mine.messages

    def window_shift(state, key):
        mid = state.mid + jnp.where(jax.random.bernoulli(key, 0.5, (batch,)), 1.0, -1.0)
        book, dropped = jax.vmap(lambda b, m: ops.shift_window(b, env.origin_for(m)))(state.book, mid)
        return state.replace(book=book, mid=mid), dropped

    def observation(state, key):
        # The book moves each step (else the observation is loop-invariant) and the observation
        # is consumed through the returned count; its book events/s are not meaningful.
        book = state.book.replace(volume=jnp.roll(state.book.volume, 1, axis=-1))
        obs = jax.vmap(env.get_obs, in_axes=(0, None))(state.replace(book=book), params)
        return state.replace(book=book), jnp.sum(obs, axis=1)

    def runner(phase):
        @jax.jit
        def run(state, key):
            def body(carry, step_key):
                state, events = carry
                state, count = phase(state, step_key)
                return (state, events + jnp.sum(count).astype(jnp.float32)), None
            (state, events), _ = jax.lax.scan(body, (state, jnp.float32(0.0)),
                                              jax.random.split(key, steps))
            return state, events
        return run

    phases = {"flow": flow, "agent": agent_message, "window shift": window_shift,
              "observation": observation}
    return {name: (runner(fn), initial) for name, fn in phases.items()}


def _best_time(run, state, repeats: int):
    state, _ = jax.block_until_ready(run(state, jax.random.key(1)))  # compile + warm up
    best, events = float("inf"), 0.0
    for r in range(repeats):
        start = time.perf_counter()
        state, events = jax.block_until_ready(run(state, jax.random.key(2 + r)))
        best = min(best, time.perf_counter() - start)
    return best, float(events)


def bench(config_path: str | None, batches, steps: int, repeats: int, overrides=(),
          layouts=LAYOUTS, phases: bool = False, reduce: float = 0.0):
    rows = []
    where = machine()
    for layout in layouts:
        config = load_config(config_path, [*overrides, f"env.layout={layout}"])
        env, params = make_env(config)
        if reduce and env.action_type == "discrete":
            raise ConfigError(f"--reduce {reduce:g}: {config_path} has a discrete action grid, "
                              "whose first row the benchmark steps; --reduce needs env.action_type continuous")
        for batch in batches:
            run, state = make_runner(env, params, batch, steps, reduce)
            best, events = _best_time(run, state, repeats)
            row = {"layout": layout, "phase": "whole step", "batch": batch, "reduce": reduce,
                   "steps_per_s": batch * steps / best, "events_per_step": events / (batch * steps),
                   "levels_per_side": env.half_width,
                   "event_slots": 2 * (env.limit_slots + env.cancel_slots) + 4, **where}
            row["events_per_s"] = row["steps_per_s"] * row["events_per_step"]
            rows.append(row)
            if not phases:
                continue
            for name, (run, state) in make_phase_runners(env, params, batch, steps, reduce).items():
                best, events = _best_time(run, state, repeats)
                rows.append({"layout": layout, "phase": name, "batch": batch, "reduce": reduce,
                             "steps_per_s": batch * steps / best, "ns_per_book": 1e9 * best / (batch * steps),
                             "events_per_s": events / best, **where})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/lob.yaml")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64, 1024, 8192])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    # An override given after --layouts is named as an invalid choice (see the docstring).
    parser.add_argument("--layouts", nargs="+", choices=LAYOUTS, default=list(LAYOUTS))
    parser.add_argument("--phases", action="store_true", help="also time each phase of the step alone")
    parser.add_argument("--reduce", type=float, default=0.0,
                        help="the fixed policy's market order, as a share of the inventory (0: none; "
                             "the book skips the agent's walk in a step where no book sends one)")
    parser.add_argument("--out", default=None, help="append one JSON line per row")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. env.half_width=16")
    args = parser.parse_args(argv)
    if not 0.0 <= args.reduce <= 1.0:
        parser.error(f"--reduce must be in [0, 1], got {args.reduce}")
    print(f"market orders: {args.reduce:g} of the inventory per step")
    rows = bench(args.config, args.batches, args.steps, args.repeats, args.overrides, args.layouts,
                 args.phases, args.reduce)
    print("| layout | phase | envs | env steps/s | ns/book | book events/s | machine | CPU | device | jax |")
    print("|---|---|---:|---:|---:|---:|---|---|---|---|")
    for row in rows:
        ns = row.get("ns_per_book", 1e9 / row["steps_per_s"])
        print(f"| {row['layout']} | {row['phase']} | {row['batch']} | {row['steps_per_s']:,.0f} | {ns:,.0f} "
              f"| {row['events_per_s'] / 1e6:.2f} M | {row['machine']} | {row['cpu']} | {row['device']} "
              f"| {row['jax']} |")
    if args.out:
        with open(args.out, "a") as f:
            for row in rows:
                f.write(json.dumps({"benchmark": "lob_env_steps", "config": args.config, **row}) + "\n")


if __name__ == "__main__":
    sys.exit(run_guarded(main))
