"""Pytrees with a leading member axis: stack, slice, count."""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp


def stack(trees: Sequence[Any]) -> Any:
    """One pytree whose leaves are the members' leaves stacked along a new leading axis."""
    return jax.tree.map(lambda *leaves: jnp.stack([jnp.asarray(x) for x in leaves]), *trees)


def member(tree: Any, index: int) -> Any:
    """Member ``index`` of a stacked pytree (the leading axis removed)."""
    return jax.tree.map(lambda x: x[index], tree)


def num_members(tree: Any) -> int:
    return int(jax.tree.leaves(tree)[0].shape[0])
