"""Regime change: does fine-tuning on the first window of a new regime beat the stale policy and a
policy trained from scratch with the same budget, on the windows that follow?

    python benchmarks/bench_finetune.py [--seeds 3] [--parent-steps 3e6] [--finetune-steps 5e5]
        [--window 600] [--held-out 3] [--out results/bench_finetune]

1. Data: :mod:`jaxmm.finetune.regime_data` (calm order book, then 30 % informed market orders and a
   fair value moving 1 tick per step instead of 0.3).
2. For each seed: the order book calibrated on the calm regime (``jaxmm calibrate``, base
   ``configs/ppo_lob.yaml``) and PPO trained on it (``--parent-steps``); then, on the first
   ``--window`` seconds of the new regime, a fine-tune of that policy (calibrated environment,
   ``--finetune-steps``, the ``finetune`` section's learning-rate schedule) and a fresh network
   trained there with the same budget and the parent's learner hyperparameters.
3. The stale, fine-tuned and from-scratch policies on the ``--held-out`` windows of the new regime
   that follow (replayed data, ``--episodes`` episodes each); per seed the mean over those windows;
   across seeds the mean and its standard error, in mean episode reward and Sharpe, and the same
   for the per-seed differences fine-tuned minus stale and fine-tuned minus scratch (paired: one
   parent, one seed). A policy that never fills on a window has Sharpe 0 there (no PnL at all; the
   ratio itself is undefined), counted in ``no_fill_windows``. A Sharpe ratio is also undefined
   (NaN) on a window where every episode ended with the same PnL; such a window is left out of
   that policy's mean, and the paired differences are taken over the windows where both
   policies' values are defined (the windows left out are counted in ``unpaired_windows``).

Trailing ``k=v`` arguments override the fine-tune's config (e.g. ``finetune.learning_rate=1e-3``).
Parents already trained under ``--out`` are reused. Writes ``bench_finetune.json`` (every number)
and prints the table; ``--summarise FILE`` prints the table of a ``bench_finetune.json`` again
(and rewrites its summary) without training.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jaxmm.finetune import regime_data  # noqa: E402

BASE_CONFIG = "configs/ppo_lob.yaml"
METRICS = ("reward_mean", "sharpe")
DIFFERENCES = (("finetuned", "stale"), ("finetuned", "scratch"))
POLICIES = ("stale", "finetuned", "scratch")
FIRST_ROW_SECONDS = 1  # the first second of the data submits the initial book


def mean_sem(values) -> tuple[float, float]:
    values = np.asarray(values, float)
    sem = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")
    return float(values.mean()), sem


def window_metrics(m: dict) -> dict:
    """Reward and Sharpe of one policy on one window; Sharpe 0 for a policy that never fills."""
    sharpe = m["sharpe"]
    no_fills = m["fills_per_episode"] == 0
    if no_fills:
        sharpe = 0.0
    return {"reward_mean": m["reward_mean"], "sharpe": float("nan") if sharpe is None else sharpe,
            "fills_per_episode": m["fills_per_episode"], "no_fills": bool(no_fills)}


def paired(seed_result: dict, a: str, b: str, metric: str) -> tuple[float, int]:
    """Mean over one seed's windows of ``a`` minus ``b`` where both are defined; windows left out."""
    pairs = [w[a][metric] - w[b][metric] for w in seed_result["windows"]
             if np.isfinite(w[a][metric]) and np.isfinite(w[b][metric])]
    return (float(np.mean(pairs)) if pairs else float("nan")), len(seed_result["windows"]) - len(pairs)


def summarise(results: list[dict]) -> dict:
    """Across seeds: each policy's mean ± standard error, the paired differences, the counts."""
    summary = {name: {k: mean_sem([r["mean"][name][k] for r in results]) for k in METRICS} for name in POLICIES}
    differences, unpaired = {}, {}
    for a, b in DIFFERENCES:
        label = f"{a} - {b}"
        per_seed = {k: [paired(r, a, b, k) for r in results] for k in METRICS}
        differences[label] = {k: mean_sem([d for d, _ in values]) for k, values in per_seed.items()}
        differences[label]["per_seed"] = {k: [d for d, _ in values] for k, values in per_seed.items()}
        unpaired[label] = {k: sum(n for _, n in values) for k, values in per_seed.items()}
    no_fills = {name: sum(r["no_fill_windows"][name] for r in results) for name in POLICIES}
    undefined = {name: sum(not np.isfinite(w[name]["sharpe"]) for r in results for w in r["windows"])
                 for name in POLICIES}
    return {"summary": summary, "differences": differences, "no_fill_windows": no_fills,
            "undefined_sharpe_windows": undefined, "unpaired_windows": unpaired}


def print_table(report: dict) -> None:
    windows = len(report["seeds"]) * len(report["held_out_windows"])
    print(f"{'policy':<22} {'mean reward':>22} {'Sharpe':>22} {'no-fill windows':>16} {'Sharpe undefined':>17}")
    for name, row in report["summary"].items():
        cells = [f"{row[k][0]:.4g} ± {row[k][1]:.2g}" for k in METRICS]
        print(f"{name:<22} {cells[0]:>22} {cells[1]:>22} {report['no_fill_windows'][name]:>10} of {windows}"
              f" {report['undefined_sharpe_windows'][name]:>11} of {windows}")
    for name, row in report["differences"].items():
        cells = [f"{row[k][0]:.4g} ± {row[k][1]:.2g}" for k in METRICS]
        left_out = report["unpaired_windows"][name]["sharpe"]
        print(f"{name:<22} {cells[0]:>22} {cells[1]:>22}   (Sharpe paired over {windows - left_out} of {windows} windows)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--parent-steps", type=float, default=3e6)
    parser.add_argument("--finetune-steps", type=float, default=5e5)
    parser.add_argument("--window", type=float, default=600.0, help="seconds of the fine-tune window")
    parser.add_argument("--held-out", type=int, default=3, help="held-out windows of --window seconds")
    parser.add_argument("--episodes", type=int, default=256, help="episodes per held-out window")
    parser.add_argument("--out", default="results/bench_finetune")
    parser.add_argument("overrides", nargs="*", metavar="k=v", help="overrides of the fine-tune's config")
    parser.add_argument("--summarise", metavar="FILE", help="re-summarise a bench_finetune.json; no training")
    args = parser.parse_args()
    if args.summarise:
        path = Path(args.summarise)
        report = json.loads(path.read_text())
        report.update(summarise(report["seeds"]))
        path.write_text(json.dumps(report, indent=2) + "\n")
        print_table(report)
        return

    from jaxmm.data.calibrate_cli import run_calibration
    from jaxmm.finetune import run as ft
    from jaxmm.finetune import windows
    from jaxmm.finetune.environments import REPLAY
    from jaxmm.training import train

    out = Path(args.out)
    data_dir = out / "data"
    manifest = regime_data.write_regime_data(data_dir)
    data = str(data_dir / "regime_message_10.csv.gz")
    change = manifest["regime_change_seconds_after_first_row"]
    calm_config = out / "calm.yaml"
    run_calibration(data, "lob", calm_config, window=f"{FIRST_ROW_SECONDS}:{change}", base=BASE_CONFIG)
    first = windows.Window(change, change + args.window)
    held_out = [first.following(args.window)]
    for _ in range(args.held_out - 1):
        held_out.append(held_out[-1].following(args.window))
    overrides = [f"finetune.env_steps={int(args.finetune_steps)}", f"finetune.eval_episodes={args.episodes}",
                 "eval.bootstrap_samples=0", *args.overrides]
    results = []
    start = time.time()
    for seed in range(args.seeds):
        parent_dir = out / f"calm_seed{seed}"
        if not (parent_dir / "checkpoints").exists():
            train(str(calm_config), [f"train.seed={seed}", f"train.total_env_steps={int(args.parent_steps)}",
                                     "train.eval_episodes=0"], run_dir=parent_dir, progress=False)
        parent = ft.load_parent(str(parent_dir))
        session = ft.Session(parent, [*overrides, f"finetune.seed={seed}"])
        session.open_data(data)
        tuned_dir = out / f"finetuned_seed{seed}"
        if tuned_dir.exists():  # a rerun (other overrides): the parents are reused, the fine-tunes redone
            shutil.rmtree(tuned_dir)
        tuned = ft.finetune_window(session, "calibrated", first, held_out[0], parent.restore().state,
                                   run_dir=tuned_dir, progress=False)
        config = session.scratch_config()
        scratch_start = tuned.trainer.start(config, tuned.env_params, seed)
        scratch, _ = ft.train_state(tuned.trainer, scratch_start, session.settings.env_steps, config=config,
                                    run_dir=None, progress=False)
        policies = [tuned.trainer.policy(tuned.state)._replace(name="finetuned"),
                    tuned.trainer.policy(scratch)._replace(name="scratch")]
        policies.insert(0, policies[0]._replace(name="stale", params=parent.policy().params))
        per_window = []
        for window in held_out:
            eval_config, env, env_params = session.eval_env(window)
            per_window.append({"window": window.spec,
                               **{name: window_metrics(m)
                                  for name, m in ft.evaluate(env, env_params, policies, eval_config).items()}})
        results.append({"seed": seed, "windows": per_window,
                        "mean": {name: {k: float(np.nanmean([w[name][k] for w in per_window])) for k in METRICS}
                                 for name in POLICIES},
                        "no_fill_windows": {name: sum(w[name]["no_fills"] for w in per_window) for name in POLICIES}})
        print(f"seed {seed}: {results[-1]['mean']}", flush=True)
    report = {"arguments": vars(args), "eval_env": REPLAY, "data": manifest, "fine_tune_window": first.spec,
              "held_out_windows": [w.spec for w in held_out], "seeds": results, "wall_s": time.time() - start}
    report.update(summarise(results))
    (out / "bench_finetune.json").write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    print(f"wrote {out / 'bench_finetune.json'}")


if __name__ == "__main__":
    main()
