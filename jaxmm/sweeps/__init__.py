"""Sweeps (the ``sweep`` config section, :mod:`jaxmm.config.sweep`): many members (reward weights x seeds x parameters) trained as one compiled program.

* :mod:`jaxmm.sweeps.members`: member configs, which keys may vary, stacked params and hyperparameters.
* :mod:`jaxmm.sweeps.stacking`: stacking and slicing pytrees along the member axis.
* :mod:`jaxmm.sweeps.placement`: the member (or environment) axis sharded across devices.
* :mod:`jaxmm.sweeps.pareto`: non-dominated members, hypervolume, frontiers, ``sweep.csv`` and ``pareto.png``.
"""
