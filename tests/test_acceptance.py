"""Acceptance: the shipped learner configs learn on every one of three training seeds.

``pytest -m acceptance`` (outside the default run). The seeds of one config train together
as one sweep (``train.seed`` axis); each member is evaluated on held-out episodes and must
clear its bar (``jaxmm.claims``). Mean and standard error over seeds are printed
(``pytest -m acceptance -s``).
"""

import pytest

from jaxmm import claims

pytestmark = pytest.mark.acceptance


@pytest.mark.parametrize("name", list(claims.LEARNING_CLAIMS))
def test_the_shipped_learner_clears_its_bar_on_every_training_seed(name, tmp_path):
    result = claims.LEARNING_CLAIMS[name](tmp_path / "run")
    print(f"\n{name} ({result.config}, seeds {result.seeds}, {result.seconds:.0f} s): {result.bar}\n{result.table}")
    assert result.passed, "; ".join(result.failures)
