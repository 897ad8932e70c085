"""The learning claims of the shipped learner configs, measured over several training seeds.

One function per claim: it trains the config's seeds together (a ``train.seed`` sweep, one
compiled program), evaluates every member on held-out episodes and returns a
:class:`ClaimResult`: the value per seed, the bar it must clear, and a markdown table.
``tests/test_acceptance.py`` asserts the bars (``pytest -m acceptance``);
``benchmarks/reproduce.py`` writes the tables that README and BENCHMARKS show.

* ``ppo_cj_small``: PPO's mean reward over the Cartea-Jaimungal closed-form optimum.
* ``dqn_cj_small``: DQN's expected reward over the dynamic-programming optimum of its quote grid,
  both exact (the greedy policy is a table over (step, inventory), scored by policy evaluation).
* ``ppo_lob``, ``dqn_lob``: Sharpe ratio on the book on two held-out seeds against the best
  of the fixed spread (its depth picked on a validation seed) and the closed forms, at no
  larger mean |inventory|.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

SEEDS = (0, 1, 2)
PPO_CJ_RATIO = 0.98  # of the Cartea-Jaimungal closed-form optimum
DQN_CJ_RATIO = 0.97  # of the dynamic-programming optimum of the quote grid
HELD_OUT_SEEDS = (1001, 1002)  # the book's test episodes (the learners select on eval.seed)
VALIDATION_SEED = 1000  # picks the fixed-spread depth
FIXED_TICKS = (0.5, 1.0, 2.0, 3.0)  # fixed-spread depths tried, in ticks from the mid
BOOK_EPISODES = 2000
CLOSED_FORMS = ("avellaneda_stoikov", "glft")


@dataclasses.dataclass
class ClaimResult:
    name: str
    config: str
    seeds: tuple[int, ...]
    values: list[float]  # the claimed quantity, one per training seed
    bar: str  # what every value must clear, in words
    failures: list[str]  # one line per value that does not clear it
    table: str  # markdown
    seconds: float

    @property
    def passed(self) -> bool:
        return not self.failures


def mean_se_worst(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean, standard error of the mean over seeds, and the worst (smallest) value."""
    x = np.asarray(values, np.float64)
    se = x.std(ddof=1) / math.sqrt(len(x)) if len(x) > 1 else math.nan
    return float(x.mean()), float(se), float(x.min())


def headline(values: Sequence[float], fmt: str = ".4f") -> str:
    mean, se, worst = mean_se_worst(values)
    return f"{mean:{fmt}} ± {se:{fmt}} (worst {worst:{fmt}})"


def train_seeds(config: str, seeds: Sequence[int], run_dir: Path, overrides: Sequence[str] = ()):
    """Train ``config``'s seeds as one sweep; return (population, stacked state) from the run."""
    from jaxmm import checkpoint, training

    axis = f"sweep.axes=[{{key: train.seed, values: {list(seeds)}}}]"
    training.main(["--config", config, "--run-dir", str(run_dir), "--no-progress", axis,
                   "train.eval_episodes=0", *overrides])
    return checkpoint.restore_population(run_dir)


def _members(population, state, episodes: int, seed: int) -> list[dict]:
    from jaxmm.evaluate import evaluate_policy

    return [evaluate_policy(population.env, population.member_env_params(m.index),
                            population.policy(state, m.index), episodes, seed=seed)["metrics"]
            for m in population.members]


def _ratio_claim(name: str, config: str, seeds, run_dir: Path, overrides, optimum_of: Callable,
                 optimum_name: str, bar: float, exact_of: Callable | None = None) -> ClaimResult:
    """Each member's mean reward over ``optimum_of``'s value. With ``exact_of(population, state, i)``
    (a member's exact expected reward) the ratio is taken on it, and the simulated mean beside it
    is the check; without it, on the simulated mean."""
    start = time.perf_counter()
    population, state = train_seeds(config, seeds, run_dir, overrides)
    cfg = population.members[0].config
    optimum = optimum_of(population, cfg)
    results = _members(population, state, cfg.eval.episodes, cfg.eval.seed)
    exact = None if exact_of is None else [exact_of(population, state, m.index) for m in population.members]
    rewards = [r["reward_mean"] for r in results] if exact is None else exact
    ratios = [r / optimum for r in rewards]
    header = "| training seed | mean reward | s.e. | ratio to the " + optimum_name + " |"
    if exact is None:
        rows = [header, "|---:|---:|---:|---:|"]
        rows += [f"| {s} | {r['reward_mean']:.5f} | {r['reward_sem']:.5f} | {q:.2%} |"
                 for s, r, q in zip(seeds, results, ratios)]
        tail = "| mean ± s.e. (worst) | | | "
    else:
        rows = ["| training seed | exact expected reward | simulated mean reward | s.e. | ratio (exact) to the "
                + optimum_name + " |", "|---:|---:|---:|---:|---:|"]
        rows += [f"| {s} | {x:.5f} | {r['reward_mean']:.5f} | {r['reward_sem']:.5f} | {q:.2%} |"
                 for s, x, r, q in zip(seeds, exact, results, ratios)]
        tail = "| mean ± s.e. (worst) | | | | "
    mean, se, worst = mean_se_worst(ratios)
    rows.append(f"{tail}{mean:.2%} ± {se:.2%} (worst {worst:.2%}) |")
    note = (f"\n{optimum_name}: {optimum:.5f}; {cfg.eval.episodes:,} simulated episodes of eval.seed {cfg.eval.seed} "
            "per member")
    if exact is not None:
        note += "; the exact expected reward is the greedy policy's, by policy evaluation on the same recursion"
    failures = [f"seed {s}: {q:.4f} < {bar}" for s, q in zip(seeds, ratios) if q < bar]
    return ClaimResult(name, config, tuple(seeds), ratios, f"≥ {bar:.0%} of the {optimum_name} on every seed",
                       failures, "\n".join(rows) + note, time.perf_counter() - start)


def ppo_cj_small(run_dir: Path, seeds=SEEDS, overrides: Sequence[str] = ()) -> ClaimResult:
    from jaxmm.baselines import make_baseline

    def optimum(population, cfg):
        return make_baseline("cartea_jaimungal", cfg, population.env, population.member_env_params(0)).closed_form_value

    return _ratio_claim("ppo_cj_small", "configs/ppo_cj_small.yaml", seeds, run_dir, overrides, optimum,
                        "closed-form optimum", PPO_CJ_RATIO)


def dqn_cj_small(run_dir: Path, seeds=SEEDS, overrides: Sequence[str] = ()) -> ClaimResult:
    from jaxmm.baselines import dynamic_programming

    def optimum(population, cfg):
        params = population.member_env_params(0)
        return dynamic_programming.initial_value(dynamic_programming.solve(params), params)

    def exact(population, state, index):
        params = population.member_env_params(index)
        table = dynamic_programming.greedy_table(population.env, params, population.policy(state, index))
        return dynamic_programming.initial_value(dynamic_programming.policy_values(params, table), params)

    return _ratio_claim("dqn_cj_small", "configs/dqn_cj_small.yaml", seeds, run_dir, overrides, optimum,
                        "dynamic-programming optimum", DQN_CJ_RATIO, exact)


def book_baselines(population) -> list:
    """The fixed spread at its best depth on the validation seed, and the closed forms."""
    from jaxmm.baselines import make_baseline
    from jaxmm.evaluate import evaluate_policy

    config = population.members[0].config
    env, params = population.env, population.member_env_params(0)
    tick = config.env.tick_size
    candidates = []
    for ticks in FIXED_TICKS:
        policy = make_baseline("fixed_spread", config.replace([f"policy.fixed_depth={ticks * tick}"]), env, params)
        sharpe = evaluate_policy(env, params, policy, BOOK_EPISODES, seed=VALIDATION_SEED)["metrics"]["sharpe"]
        candidates.append((sharpe, ticks, policy._replace(name=f"fixed_spread ({ticks:g} ticks)")))
    best = max(candidates, key=lambda c: c[0])[2]
    return [best] + [make_baseline(name, config, env, params) for name in CLOSED_FORMS]


def book(name: str, config: str, run_dir: Path, seeds=SEEDS, overrides: Sequence[str] = ()) -> ClaimResult:
    from jaxmm.evaluate import evaluate_policy

    start = time.perf_counter()
    population, state = train_seeds(config, seeds, run_dir, overrides)
    env, params = population.env, population.member_env_params(0)
    baselines = book_baselines(population)
    rows = ["| held-out seed | policy | Sharpe | PnL mean | mean abs(q) |", "|---:|---|---:|---:|---:|"]
    sharpes, failures = np.zeros((len(HELD_OUT_SEEDS), len(seeds))), []
    for h, held_out in enumerate(HELD_OUT_SEEDS):
        scored = [(b.name, evaluate_policy(env, params, b, BOOK_EPISODES, seed=held_out)["metrics"]) for b in baselines]
        bar_name, bar = max(scored, key=lambda s: s[1]["sharpe"])
        learned = _members(population, state, BOOK_EPISODES, held_out)
        for label, m in scored + [(f"{name} seed {s}", m) for s, m in zip(seeds, learned)]:
            rows.append(f"| {held_out} | {label} | {m['sharpe']:.3f} | {m['pnl_mean']:.4f} | "
                        f"{m['mean_abs_inventory']:.3f} |")
        for i, (s, m) in enumerate(zip(seeds, learned)):
            sharpes[h, i] = m["sharpe"]
            if not m["sharpe"] > bar["sharpe"]:
                failures.append(f"seed {s}, held-out {held_out}: Sharpe {m['sharpe']:.3f} <= {bar_name} "
                                f"{bar['sharpe']:.3f}")
            if m["mean_abs_inventory"] > bar["mean_abs_inventory"]:
                failures.append(f"seed {s}, held-out {held_out}: mean |q| {m['mean_abs_inventory']:.3f} > "
                                f"{bar_name} {bar['mean_abs_inventory']:.3f}")
    values = sharpes.mean(axis=0).tolist()  # per training seed, over the held-out seeds
    rows.append(f"\nLearned Sharpe per training seed (mean over held-out seeds {', '.join(map(str, HELD_OUT_SEEDS))}), "
                f"over {len(seeds)} seeds: {headline(values, '.3f')}; {BOOK_EPISODES:,} episodes each")
    return ClaimResult(name, config, tuple(seeds), values,
                       "Sharpe above the best fixed spread and closed form, at no larger mean |q|, on every "
                       "training and held-out seed", failures, "\n".join(rows), time.perf_counter() - start)


def ppo_lob(run_dir: Path, seeds=SEEDS, overrides: Sequence[str] = ()) -> ClaimResult:
    return book("ppo_lob", "configs/ppo_lob.yaml", run_dir, seeds, overrides)


def dqn_lob(run_dir: Path, seeds=SEEDS, overrides: Sequence[str] = ()) -> ClaimResult:
    return book("dqn_lob", "configs/dqn_lob.yaml", run_dir, seeds, overrides)


LEARNING_CLAIMS: dict[str, Callable[..., ClaimResult]] = {
    "ppo_cj_small": ppo_cj_small, "dqn_cj_small": dqn_cj_small, "ppo_lob": ppo_lob, "dqn_lob": dqn_lob}
