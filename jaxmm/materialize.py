"""Run a function so that its results are written to memory once, for XLA's CPU compiler.

XLA fuses an elementwise computation into each kernel that reads its result instead of
writing that result out, so a value read by ten kernels is computed ten times, each time from
its own inputs (an environment step's quantities from the step's raw random bits: a dozen
arrays read per kernel). Where many small kernels read the same values, as the evaluation's
per-step sums and metric accumulators read an environment step's outputs, that costs more
than the step. The operands and results of a conditional must exist as buffers, so a function
called as the branch of one is computed once and its results are written once.
``lax.optimization_barrier`` does not do this on a CPU: XLA:CPU removes it before fusion.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp


def call(fn: Callable[..., Any], step: jax.Array, *args: Any) -> Any:
    """``fn(*args)``, its results written to memory once; ``step`` is any traced value >= 0 (a
    step index), which XLA cannot prove to be, so it keeps the conditional. The other branch,
    never taken, returns zeros of the same shapes. ``fn`` is traced once: the branch and the
    shapes of the zeros share ``jax.jit``'s trace of it."""
    traced = jax.jit(fn)

    def zeros(*operands):
        shapes = jax.eval_shape(traced, *operands)
        return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)

    return jax.lax.cond(step >= 0, traced, zeros, *args)
