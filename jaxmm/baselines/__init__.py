"""Closed-form and heuristic baseline policies, by name.

``make_baseline(name, config, env, env_params) -> Policy``. Builders are
imported on demand, so listing the baselines costs nothing.

* ``avellaneda_stoikov``: AS (2008) reservation price and spread, risk aversion ``policy.risk_aversion``.
* ``symmetric``: the same spread centred on the mid.
* ``glft``: Gueant-Lehalle-Fernandez-Tapia (2013) asymptotic closed-form quotes.
* ``cartea_jaimungal``: exact optimum of the CJP (2015) running/terminal inventory-penalty criterion.
* ``fixed_spread``: both sides at ``policy.fixed_depth`` from the mid.
* ``inventory_capped``: ``fixed_spread`` without the side that would take |q| past ``policy.inventory_cap``.
* ``dynamic_programming``: exact optimum of the model environment's discrete quote-grid problem.
"""

from __future__ import annotations

import importlib
from typing import Any

from jaxmm.config.section import suggest
from jaxmm.errors import ConfigError
from jaxmm.policy import Policy

# name -> "module:function" building a Policy from (config, env, env_params).
BASELINES: dict[str, str] = {
    "avellaneda_stoikov": "jaxmm.baselines.avellaneda_stoikov:make_avellaneda_stoikov",
    "symmetric": "jaxmm.baselines.avellaneda_stoikov:make_symmetric",
    "glft": "jaxmm.baselines.glft:make_glft",
    "cartea_jaimungal": "jaxmm.baselines.cartea_jaimungal:make_cartea_jaimungal",
    "fixed_spread": "jaxmm.baselines.fixed_spread:make_fixed_spread",
    "inventory_capped": "jaxmm.baselines.fixed_spread:make_inventory_capped",
    "dynamic_programming": "jaxmm.baselines.dynamic_programming:make_dynamic_programming",
}


def available_baselines() -> tuple[str, ...]:
    return tuple(BASELINES)


def make_baseline(name: str, config, env, env_params: Any) -> Policy:
    """The baseline policy ``name`` for this environment; ConfigError for an unknown name."""
    if name not in BASELINES:
        raise ConfigError(f"unknown policy {name!r}" + suggest(name, BASELINES)
                          + f"; available: {', '.join(BASELINES)}")
    module, function = BASELINES[name].split(":")
    return getattr(importlib.import_module(module), function)(config, env, env_params)
