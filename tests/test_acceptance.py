"""Acceptance: the shipped learner configs learn on every one of three training seeds.

``pytest -m acceptance`` (outside the default run). The seeds of one config train together
as one sweep (``train.seed`` axis); each member is evaluated on held-out episodes and must
clear its bar (``jaxmm.claims``). Mean and standard error over seeds are printed
(``pytest -m acceptance -s``). ``.ci/run`` runs them on two workers (pytest-xdist), handed
out one at a time longest first (the book claims train longest), so that both workers finish
at about the same time.
"""

import pytest

from jaxmm import claims

pytestmark = pytest.mark.acceptance


LONGEST_FIRST = list(reversed(claims.LEARNING_CLAIMS))  # the claims are listed cheapest first


@pytest.mark.parametrize("name", LONGEST_FIRST)
def test_the_shipped_learner_clears_its_bar_on_every_training_seed(name, tmp_path):
    result = claims.LEARNING_CLAIMS[name](tmp_path / "run")
    print(f"\n{name} ({result.config}, seeds {result.seeds}, {result.seconds:.0f} s): {result.bar}\n{result.table}")
    assert result.passed, "; ".join(result.failures)
