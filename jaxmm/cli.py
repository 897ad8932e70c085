"""Command line: ``jaxmm train | evaluate | stylized-facts | data inspect`` (also ``python -m jaxmm``).

Options come first, then any number of ``section.key=value`` overrides.
Errors caused by input (config, data, checkpoints) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from jaxmm.errors import EXIT_INPUT_ERROR, EXIT_INTERRUPTED, run_guarded  # noqa: F401 (re-exported)


def _add_overrides(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("overrides", nargs="*", metavar="section.key=value",
                        help="override config values, e.g. env.volatility=1.5 reward.pnl=1")


def _evaluate(args: argparse.Namespace) -> None:
    from jaxmm.evaluation.command import run

    run(args)


def _stylized_facts(args: argparse.Namespace) -> None:
    from jaxmm.config import load_config
    from jaxmm.stylized_facts import stylized_facts_report

    config = load_config(args.config, args.overrides)
    options = {"seed": config.eval.seed if args.seed is None else args.seed}
    if args.episodes:
        options["episodes"] = args.episodes
    stylized_facts_report(config, Path(args.out), **options)
    print(f"wrote the stylised-facts report to {args.out}/")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxmm", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    # ``train`` is forwarded whole to the training entry point (see ``main``); listed here for --help.
    commands.add_parser("train", help="train a policy (same options as train.py)", add_help=False)

    evaluate = commands.add_parser("evaluate", help="roll out policies on many episodes (or a scenario suite)")
    evaluate.add_argument("--config", help="experiment YAML (default: built-in defaults)")
    evaluate.add_argument("--policy", action="append", help="baseline name, or checkpoint:RUN_DIR for a trained "
                          "policy (checkpoint:RUN_DIR#member=K or #best=sharpe for a sweep member); repeat for "
                          "several (default: policy.name of the config)")
    evaluate.add_argument("--scenarios", metavar="SUITE", help="scenario suite YAML (configs/scenarios/*.yaml): "
                          "every policy on every scenario, with a report")
    evaluate.add_argument("--episodes", type=int, help="number of episodes (default: eval.episodes)")
    evaluate.add_argument("--seed", type=int, help="random seed (default: eval.seed)")
    evaluate.add_argument("--batch-size", type=int, help="episodes in parallel (default: eval.batch_size)")
    evaluate.add_argument("--out", help="write the metrics as JSON to this file")
    evaluate.add_argument("--plots", metavar="DIR", help="write inventory-path and PnL plots here")
    evaluate.add_argument("--report", metavar="DIR", help="write report.html (self-contained), evaluation.json, "
                          "episodes.csv and the plots here (default with --scenarios: results/<suite name>)")
    _add_overrides(evaluate)
    evaluate.set_defaults(func=_evaluate)

    facts = commands.add_parser("stylized-facts", help="stylised facts of the simulated order book")
    facts.add_argument("--config", default="configs/lob.yaml")
    facts.add_argument("--out", default="results/stylized_facts", help="output directory")
    facts.add_argument("--episodes", type=int, help="episodes simulated (default 64)")
    facts.add_argument("--seed", type=int)
    _add_overrides(facts)
    facts.set_defaults(func=_stylized_facts)

    from jaxmm.data.calibrate_cli import register as register_calibrate
    from jaxmm.data.inspect import register as register_data
    from jaxmm.finetune.command import register as register_finetune

    register_data(commands)
    register_calibrate(commands)
    register_finetune(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:
        from jaxmm.training import run_cli

        return run_cli(argv[1:])
    args = build_parser().parse_args(argv)
    return run_guarded(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
