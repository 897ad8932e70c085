"""Fine-tuning a trained policy on recent market data, and the rolling walk-forward loop.

* :mod:`jaxmm.finetune.config`: the ``finetune`` config section (budget, learning-rate schedule, anchor).
* :mod:`jaxmm.finetune.windows`: time windows of a data file (parsing, bounds, walk-forward windows).
* :mod:`jaxmm.finetune.environments`: the environment of a window (calibrated simulator or replay)
  and what may not differ from the parent run.
* :mod:`jaxmm.finetune.state`: the parent's restored learner state grafted onto fresh environment
  states, and the chunk with the pull toward the restored parameters.
* :mod:`jaxmm.finetune.run`: one fine-tune (its own run directory, ``finetune.json``).
* :mod:`jaxmm.finetune.rolling`: the walk-forward loop (``rolling.csv``, plots, resume).
* :mod:`jaxmm.finetune.regime_data`: market data with a regime change, for the benchmark and tests.
* :mod:`jaxmm.finetune.command`: the ``finetune`` command line.

Nothing is imported here, so the config loader can import the section without a cycle.
"""
