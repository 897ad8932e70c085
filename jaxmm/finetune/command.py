"""The ``finetune`` command.

    python -m jaxmm finetune --checkpoint RUN_DIR[#member=K] --data PATH --window START:END
        [--env calibrated|replay|both] [--run-dir DIR] [k=v ...]
    python -m jaxmm finetune --checkpoint RUN_DIR --data PATH --rolling --train-window W --step S
        [--start T] [--out DIR] [k=v ...]

``k=v`` are config overrides of the fine-tune (``finetune.env_steps=2e5``,
``finetune.anchor_weight=0.1``, ``reward.inventory_penalty=0.05``, ...).
"""

from __future__ import annotations

import argparse

from jaxmm.errors import ConfigError
from jaxmm.finetune.environments import ENV_KINDS


def run_finetune(args: argparse.Namespace) -> None:
    if args.rolling:
        if args.train_window is None or args.step is None:
            raise ConfigError("--rolling needs --train-window W and --step S (seconds)")
        if args.window:
            raise ConfigError("--rolling walks through the data by itself; drop --window")
        from jaxmm.finetune.rolling import rolling

        rolling(args.checkpoint, args.data, train_seconds=args.train_window, step_seconds=args.step,
                start=args.start, trades=args.trades, env=args.env, overrides=args.overrides, out=args.out,
                progress=not args.no_progress)
        return
    if not args.window:
        raise ConfigError("name the window to fine-tune on with --window START:END (or use --rolling)")
    from jaxmm.finetune.run import finetune

    finetune(args.checkpoint, args.data, args.window, trades=args.trades, env=args.env, overrides=args.overrides,
             run_dir=args.run_dir or args.out, progress=not args.no_progress)


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``finetune`` command to an argparse ``add_subparsers()`` object (sets ``func``)."""
    parser = subparsers.add_parser(
        "finetune", help="fine-tune a trained policy on a window of market data (or walk forward through it)",
        description="Continue training a trained policy on the environment of a recent data window and "
                    "evaluate it before and after on the held-out window that follows.")
    parser.add_argument("--checkpoint", required=True, help="the parent run: RUN_DIR, RUN_DIR#member=K or "
                                                            "RUN_DIR#best=METRIC (never modified)")
    parser.add_argument("--data", required=True, help="LOBSTER message file, or L2 updates (with --trades)")
    parser.add_argument("--trades", help="the trades of the same market (with L2 updates)")
    parser.add_argument("--window", help="START:END to fine-tune on: seconds after the first row or clock times")
    parser.add_argument("--env", choices=ENV_KINDS, help="train on the simulator calibrated on the window, the "
                                                         "replayed window, or both (default: finetune.env)")
    parser.add_argument("--run-dir", help="run directory of the fine-tune (default: runs/<name>-finetune-<time>)")
    parser.add_argument("--rolling", action="store_true", help="walk forward: fine-tune on every window")
    parser.add_argument("--train-window", type=float, metavar="W", help="rolling: seconds per training window")
    parser.add_argument("--step", type=float, metavar="S", help="rolling: seconds between windows (and the "
                                                                "held-out window's length unless finetune.eval_seconds)")
    parser.add_argument("--start", type=float, default=0.0, help="rolling: seconds after the first row to start at")
    parser.add_argument("--out", help="rolling: output directory; the same command with it resumes")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("overrides", nargs="*", metavar="section.key=value",
                        help="overrides of the fine-tune's config, e.g. finetune.env_steps=2e5")
    parser.set_defaults(func=run_finetune)
    return parser
