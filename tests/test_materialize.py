"""jaxmm.materialize.call: the function's results, unchanged, inside jit, vmap and scan."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxmm import materialize


def _step(x, key):
    noise = jax.random.normal(key, x.shape)
    return {"x": x + noise, "square": noise * noise}, jnp.sum(noise)


def test_call_returns_the_functions_results_in_a_scan():
    keys = jax.random.split(jax.random.PRNGKey(0), 7)

    def run(through):
        def body(x, inputs):
            t, key = inputs
            out, total = materialize.call(_step, t, x, key) if through else _step(x, key)
            return out["x"], (out["square"], total)
        return jax.jit(lambda x: jax.lax.scan(body, x, (jnp.arange(7), keys)))(jnp.linspace(-1.0, 1.0, 5))

    for through, direct in zip(jax.tree.leaves(run(True)), jax.tree.leaves(run(False)), strict=True):
        np.testing.assert_array_equal(through, direct)


def test_call_under_vmap_keeps_integer_and_boolean_results():
    def fn(x):
        return x.astype(jnp.int32) * 2, x > 0

    x = jnp.asarray([[-1.5, 2.0], [3.0, -4.0]])
    doubled, positive = jax.vmap(lambda row: materialize.call(fn, jnp.int32(3), row))(x)
    assert doubled.dtype == jnp.int32 and positive.dtype == jnp.bool_
    np.testing.assert_array_equal(doubled, [[-2, 4], [6, -8]])
    np.testing.assert_array_equal(positive, [[False, True], [True, False]])
