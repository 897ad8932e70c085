"""``apply_both`` (the fused first layer) against the flax module, outputs and gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmm.agents.networks import ActorCritic, apply_both

OBS_DIM, ACTION_DIM, BATCH = 7, 3, 33


@pytest.mark.parametrize("hidden", [(16, 8), (12,), ()])
@pytest.mark.parametrize("continuous", [False, True])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_apply_both_equals_module(hidden, continuous, activation):
    net = ActorCritic(hidden_sizes=hidden, action_dim=ACTION_DIM, continuous=continuous,
                      activation=activation, init_log_std=-0.3)
    variables = net.init(jax.random.PRNGKey(0), jnp.zeros((1, OBS_DIM)))
    # Perturb every parameter so zero biases and the small policy layer hide nothing.
    leaves, tree = jax.tree.flatten(variables)
    keys = jax.random.split(jax.random.PRNGKey(1), len(leaves))
    variables = jax.tree.unflatten(tree, [x + 0.3 * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys)])
    obs = jax.random.normal(jax.random.PRNGKey(2), (BATCH, OBS_DIM))
    for want, got in zip(jax.tree.leaves(net.apply(variables, obs)), jax.tree.leaves(apply_both(net, variables, obs))):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)

    def scalar(apply):
        return lambda v: sum(jnp.sum(jnp.sin(x)) for x in jax.tree.leaves(apply(v, obs)))

    want = jax.grad(scalar(net.apply))(variables)
    got = jax.grad(scalar(lambda v, o: apply_both(net, v, o)))(variables)
    assert jax.tree.structure(got) == jax.tree.structure(want)
    for w, g in zip(jax.tree.leaves(want), jax.tree.leaves(got)):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)
