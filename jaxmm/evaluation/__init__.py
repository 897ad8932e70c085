"""Evaluation beyond the rollout itself: in-rollout metric accumulators, scenario parameters,
statistics, summaries, plots and the HTML report (``jaxmm.evaluate`` runs the rollouts)."""
