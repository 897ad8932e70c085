"""Resolve a policy name from the command line: a baseline or ``checkpoint:RUN_DIR``."""

from __future__ import annotations

from typing import Any

from jaxmm.policy import Policy

CHECKPOINT_PREFIX = "checkpoint:"


def resolve_policy(spec: str, config, env, env_params: Any) -> Policy:
    if spec.startswith(CHECKPOINT_PREFIX):
        from jaxmm.checkpoint import load_policy

        _, policy = load_policy(spec[len(CHECKPOINT_PREFIX):], for_env=(env, env_params))
        return policy
    from jaxmm.baselines import make_baseline

    return make_baseline(spec, config, env, env_params)
