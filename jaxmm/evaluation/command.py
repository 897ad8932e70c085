"""``jaxmm evaluate``: one config or a scenario suite, any number of ``--policy``.

Without ``--scenarios``: every policy on the config's environment (``--out`` JSON,
``--plots`` PNGs, ``--report`` HTML/JSON/CSV). With ``--scenarios SUITE``: every policy on
every scenario of the suite, the summary and robustness tables printed, and the report
written to ``--report DIR`` (default ``results/<suite name>``).

Numbers on the command line go through the config's own validation (``--episodes 0`` is
one line naming the flag and ``eval.episodes``, not a silent default or a traceback).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from jaxmm.errors import ConfigError

MAX_SEED = 2 ** 32 - 1  # PRNG seeds beyond 32 bits would be silently folded
NUMBER_FLAGS = (("episodes", "--episodes", "eval.episodes"), ("batch_size", "--batch-size", "eval.batch_size"),
                ("seed", "--seed", "eval.seed"))
DEFAULT_REPORT_ROOT = Path("results")
BASE_SCENARIO = "base"  # the scenario name of a plain (suite-less) evaluation in a report


def with_cli_numbers(config, args: argparse.Namespace):
    """``config`` with the numbers given on the command line, each validated like the YAML value."""
    for attr, flag, key in NUMBER_FLAGS:
        value = getattr(args, attr)
        if value is None:
            continue
        if attr == "seed" and not 0 <= value <= MAX_SEED:
            raise ConfigError(f"{flag} {value}: must be a whole number from 0 to {MAX_SEED}")
        config = dataclasses.replace(config.replace([f"{key}={value}"], source=f"{flag} {value}"),
                                     source=config.source)
    return config


def warn_unquoted(label: str, scenario: str | None, metrics: dict) -> None:
    if metrics.get("quoting_ratio") == 0.0:
        where = f" on {scenario}" if scenario else ""
        print(f"warning: {label}{where} never had a quote in the book (quoting ratio 0): its fill metrics are 0 "
              "and its Sharpe ratio is undefined", file=sys.stderr)


def run(args: argparse.Namespace) -> None:
    if args.scenarios:
        run_suite_command(args)
    else:
        run_single(args)


def run_single(args: argparse.Namespace) -> None:
    from jaxmm.config import load_config
    from jaxmm.envs import make_env
    from jaxmm.evaluate import evaluate_policy
    from jaxmm.policies import CHECKPOINT_PREFIX, checkpoint_config, resolve_policy
    from jaxmm.reporting import format_table, plot_inventory_paths, plot_pnl_distribution, write_json, write_report

    specs = args.policy or []
    if args.config is None and specs and specs[0].startswith(CHECKPOINT_PREFIX):
        config = checkpoint_config(specs[0], args.overrides)  # the run's (member's) own config
    else:
        config = load_config(args.config, args.overrides)
    config = with_cli_numbers(config, args)
    specs = specs or [config.policy.name]
    env, env_params = make_env(config)
    ev = config.eval
    results = {}
    for spec in specs:
        policy = resolve_policy(spec, config, env, env_params)
        result = evaluate_policy(env, env_params, policy, ev.episodes, seed=ev.seed, batch_size=ev.batch_size,
                                 eval_config=ev)
        name = policy.name if policy.name not in results else f"{policy.name} ({len(results) + 1})"
        results[name] = result
        warn_unquoted(name, None, result["metrics"])
    metrics = {name: r["metrics"] for name, r in results.items()}
    print(format_table(metrics))
    extra = {"seed": ev.seed, "config_source": config.source, "config": config.to_dict()}
    if args.out:
        only = next(iter(metrics.values()))
        write_json(args.out, {**only, **extra} if len(metrics) == 1 else {"policies": metrics, **extra})
        print(f"wrote {args.out}")
    if args.plots:
        plots = Path(args.plots)
        plots.mkdir(parents=True, exist_ok=True)
        paths = {n: r["paths"] for n, r in results.items() if "paths" in r}
        if paths:
            plot_inventory_paths(paths, plots / "inventory_paths.png")
        plot_pnl_distribution({n: r["per_episode"]["pnl"] for n, r in results.items()}, plots / "pnl_distribution.png")
        print(f"wrote plots to {plots}/")
    if args.report:
        intro = {"config": config.source, "episodes": str(ev.episodes), "seed": str(ev.seed)}
        write_report(args.report, f"evaluation of {config.source}", intro,
                     {n: {BASE_SCENARIO: r} for n, r in results.items()}, "sharpe", extra)
        print(f"wrote the report to {args.report}/report.html")


def run_suite_command(args: argparse.Namespace) -> None:
    from jaxmm.evaluation.suite import run_suite
    from jaxmm.reporting import format_suite, write_report
    from jaxmm.scenarios import load_suite

    if args.config:
        raise ConfigError("--config with --scenarios: the suite file names its base config (base:); "
                          "give one of them")
    for flag, value in (("--out", args.out), ("--plots", args.plots)):
        if value:
            raise ConfigError(f"{flag} with --scenarios: the report directory (--report DIR) holds the JSON and plots")
    suite = load_suite(args.scenarios, args.overrides)
    checked = with_cli_numbers(suite.base, args)  # validates the numbers given on the command line
    episodes = checked.eval.episodes if args.episodes is not None else suite.episodes
    seed = checked.eval.seed if args.seed is not None else suite.seed
    batch_size = checked.eval.batch_size
    specs = args.policy or [suite.base.policy.name]
    print(f"{suite.path}: {len(suite.scenarios)} scenarios x {len(specs)} policies x {episodes} episodes "
          f"(seed {seed})")
    runs = run_suite(suite, specs, episodes, seed, batch_size)
    results = {r.label: r.results for r in runs}
    for label, by_scenario in results.items():
        for scenario, result in by_scenario.items():
            warn_unquoted(label, scenario, result["metrics"])
    metric = suite.spec.rank_by
    print(format_suite(results, metric))
    out_dir = Path(args.report) if args.report else DEFAULT_REPORT_ROOT / suite.name
    intro = {"suite": str(suite.path), "base config": suite.base.source, "episodes": str(episodes),
             "seed": str(seed), "ranked by": f"worst-case {metric}",
             "policies": ", ".join(f"{r.label} = {r.spec}" for r in runs)}
    extra = {"suite": str(suite.path), "base_config": suite.base.source, "episodes": episodes, "seed": seed,
             "scenarios": {s.name: s.spec.to_dict() for s in suite.scenarios},
             "policies": {r.label: {"spec": r.spec, "seconds": r.seconds, "env_differences": r.env_notes}
                          for r in runs},
             "config": suite.base.to_dict()}
    write_report(out_dir, f"scenario suite {suite.name}", intro, results, metric, extra)
    print(f"wrote {out_dir}/report.html, evaluation.json, episodes.csv and the plots")
