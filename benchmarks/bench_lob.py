"""Order-book environment throughput: env steps/s against the number of parallel envs.

A fixed policy (symmetric quotes one tick from the mid, unit size) runs
``--steps`` steps inside one jitted ``lax.scan``; each step draws the noise of
the whole batch with one ``sample_noise(key, (B,))`` call and applies the
vmapped ``transition`` (auto-reset as in gymnax). Compilation and a warm-up run
are excluded; timings end with ``block_until_ready``.

    python benchmarks/bench_lob.py [--batches 1 64 1024 8192] [--steps 200] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import jax
import jax.numpy as jnp

from jaxmm.config import load_config
from jaxmm.envs import make_env

ACTION = (1.0, 1.0, 1.0, 1.0, 0.0)  # bid/ask one tick from the mid, unit sizes, no market order


def make_runner(env, params, batch: int, steps: int):
    action = jnp.broadcast_to(jnp.asarray(ACTION, jnp.float32), (batch, len(ACTION)))
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
        return (state, events + jnp.sum(info["book_events"]), checksum), None

    @jax.jit
    def run(state, key):
        zero = jnp.float32(0.0)
        (state, events, _), _ = jax.lax.scan(step, (state, zero, zero), jax.random.split(key, steps))
        return state, events

    return run, initial


def bench(config_path: str | None, batches, steps: int, repeats: int, overrides=()):
    config = load_config(config_path, overrides)
    env, params = make_env(config)
    rows = []
    for batch in batches:
        run, state = make_runner(env, params, batch, steps)
        state, _ = jax.block_until_ready(run(state, jax.random.key(1)))  # compile + warm up
        best = float("inf")
        for r in range(repeats):
            start = time.perf_counter()
            state, events = jax.block_until_ready(run(state, jax.random.key(2 + r)))
            best = min(best, time.perf_counter() - start)
        rows.append({"batch": batch, "steps_per_s": batch * steps / best,
                     "events_per_step": float(events) / (batch * steps),
                     "levels_per_side": env.half_width, "event_slots": 2 * (env.limit_slots + env.cancel_slots) + 4})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/lob.yaml")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64, 1024, 8192])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None, help="append one JSON line per batch size")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. env.half_width=16")
    args = parser.parse_args(argv)
    rows = bench(args.config, args.batches, args.steps, args.repeats, args.overrides)
    print(f"device: {jax.devices()[0].device_kind}, {platform.processor() or platform.machine()}")
    print("| envs | env steps/s | active events/step | event slots/step | levels/side |")
    print("|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['batch']} | {row['steps_per_s']:,.0f} | {row['events_per_step']:.2f} "
              f"| {row['event_slots']} | {row['levels_per_side']} |")
    if args.out:
        with open(args.out, "a") as f:
            for row in rows:
                f.write(json.dumps({"benchmark": "lob_env_steps", "config": args.config, **row}) + "\n")


if __name__ == "__main__":
    main()
