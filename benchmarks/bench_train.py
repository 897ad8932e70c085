"""End-to-end PPO training benchmark on the Cartea-Jaimungal set-up (configs/ppo_cj_small.yaml).

Measures training throughput (environment steps per second, rollouts and gradient
updates included), compile time, and the training time until the deterministic policy
reaches ``TARGET_RATIO`` of the closed-form optimum (evaluated on ``EVAL_EPISODES``
fresh episodes after every chunk; evaluation time is not counted as training time).
Prints a markdown table.

    python benchmarks/bench_train.py [--config FILE] [section.key=value ...]

``--throughput CHUNKS`` (any learner, any environment, e.g. PPO or DQN on the book):
no evaluation; times CHUNKS compiled chunks and reports env steps/s, updates/s and the
share of the time spent stepping the environment (the same number of vmapped steps at
the learner's ``num_envs``, timed alone with ``benchmarks/bench_lob.py``'s runner) against
the rest (network, losses, optimiser, replay). Rows name machine, CPU, device and jax.

    python benchmarks/bench_train.py --config configs/ppo_lob.yaml --throughput 3
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax

from jaxmm.agents import make_learner
from jaxmm.baselines import make_baseline
from jaxmm.config import load_config
from jaxmm.envs import make_env
from jaxmm.evaluate import evaluate_policy
from jaxmm.training import compile_chunk

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lob import machine, make_runner  # noqa: E402

TARGET_RATIO = 0.97
EVAL_EPISODES = 10_000
EVAL_SEED = 12345  # fresh episodes, not the training seed
OPTIMUM_POLICY = "cartea_jaimungal"


def env_seconds(env, env_params, num_envs: int, env_steps: int, repeats: int = 2) -> float:
    """Seconds to step ``num_envs`` environments for ``env_steps`` steps in total, alone."""
    steps = max(env_steps // num_envs, 1)
    run, state = make_runner(env, env_params, num_envs, steps)
    state, _ = jax.block_until_ready(run(state, jax.random.key(1)))
    best = float("inf")
    for r in range(repeats):
        tick = time.perf_counter()
        state, _ = jax.block_until_ready(run(state, jax.random.key(2 + r)))
        best = min(best, time.perf_counter() - tick)
    return best * env_steps / (steps * num_envs)


def throughput(config, config_name: str, chunks: int) -> None:
    env, env_params = make_env(config)
    learner = make_learner(config, env)
    state = learner.init(jax.random.PRNGKey(config.train.seed), env_params, learner.hyper(config))
    run_chunk, compile_s = compile_chunk(learner.train_chunk, state)
    state, metrics = run_chunk(state)  # warm up
    jax.block_until_ready(metrics)
    tick = time.perf_counter()
    for _ in range(chunks):
        state, metrics = run_chunk(state)
    jax.block_until_ready(metrics)
    train_s = (time.perf_counter() - tick) / chunks
    steps = learner.env_steps_per_chunk
    cfg = config.learner()
    env_s = env_seconds(env, env_params, cfg.num_envs, steps)
    updates = steps // (cfg.num_envs * getattr(cfg, "rollout_len", 1))
    where = machine()
    print("| config | algo | env steps/s | updates/s | env share | network share | compile (s) "
          "| machine | CPU | device | jax |")
    print("|---|---|---:|---:|---:|---:|---:|---|---|---|---|")
    print(f"| {config_name} | {config.train.algo} | {steps / train_s:,.0f} | {updates / train_s:,.1f} "
          f"| {min(env_s / train_s, 1.0):.0%} | {max(1.0 - env_s / train_s, 0.0):.0%} | {compile_s:.1f} "
          f"| {where['machine']} | {where['cpu']} | {where['device']} | {where['jax']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/ppo_cj_small.yaml")
    parser.add_argument("--throughput", type=int, default=0, metavar="CHUNKS",
                        help="time CHUNKS chunks without evaluation (any learner and environment)")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    config = load_config(args.config, args.overrides)
    if args.throughput:
        name = args.config + (" " + " ".join(args.overrides) if args.overrides else "")
        throughput(config, name, args.throughput)
        return
    env, env_params = make_env(config)
    optimum = make_baseline(OPTIMUM_POLICY, config, env, env_params).closed_form_value
    learner = make_learner(config, env)
    state = learner.init(jax.random.PRNGKey(config.train.seed), env_params, learner.hyper(config))
    run_chunk, compile_s = compile_chunk(learner.train_chunk, state)
    chunks = -(-config.train.total_env_steps // learner.env_steps_per_chunk)
    train_s, eval_s, reached_s, reached_steps, ratio = 0.0, 0.0, None, None, float("nan")
    for chunk in range(1, chunks + 1):
        tick = time.perf_counter()
        state, metrics = run_chunk(state)
        jax.block_until_ready(metrics)
        train_s += time.perf_counter() - tick
        tick = time.perf_counter()
        reward = evaluate_policy(env, env_params, learner.policy(state), EVAL_EPISODES, seed=EVAL_SEED,
                                 batch_size=config.eval.batch_size)["metrics"]["reward_mean"]
        eval_s += time.perf_counter() - tick
        ratio = reward / optimum
        steps = chunk * learner.env_steps_per_chunk
        print(f"chunk {chunk}: {steps:,} steps, {train_s:.1f} s training, reward {reward:.4f}, "
              f"{ratio:.2%} of the optimum", flush=True)
        if reached_s is None and ratio >= TARGET_RATIO:
            reached_s, reached_steps = compile_s + train_s, steps
    steps = chunks * learner.env_steps_per_chunk
    rows = [
        ("device", str(jax.devices()[0])),
        ("config", args.config + (" " + " ".join(args.overrides) if args.overrides else "")),
        ("env steps trained", f"{steps:,}"),
        ("compile (s)", f"{compile_s:.1f}"),
        ("training (s, excl. compile)", f"{train_s:.1f}"),
        ("env steps/s incl. updates, excl. compile", f"{steps / train_s:,.0f}"),
        ("env steps/s incl. updates and compile", f"{steps / (train_s + compile_s):,.0f}"),
        (f"closed-form optimum ({OPTIMUM_POLICY})", f"{optimum:.4f}"),
        (f"final reward / optimum ({EVAL_EPISODES:,} episodes)", f"{ratio:.2%}"),
        (f"time to {TARGET_RATIO:.0%} of optimum (s, incl. compile)",
         "not reached" if reached_s is None else f"{reached_s:.1f} ({reached_steps:,} steps)"),
        ("evaluation time, not counted (s)", f"{eval_s:.1f}"),
    ]
    print("\n| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
