"""A loss floor (E, L0, L_inf) that collapses toward 0 is named in the fit's warnings when it falls
below scalelaw.laws.base.FLOOR_COLLAPSE of the smallest observed loss, not only at machine zero:
a floor of 1e-8 nats under losses of 3-4 nats means the data show no bend toward any floor."""

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.laws import get_law
from scalelaw.laws.base import FLOOR_COLLAPSE

from conftest import noisy

X = np.geomspace(1e15, 1e19, 12)


def _fit(loss):
    return sl.fit("power_law", pd.DataFrame({"flops": X, "loss": loss}), inputs={"x": "flops"}, target="loss")


def test_a_pure_power_law_collapses_the_floor_and_says_so():
    # no floor at all: L = (x0 / x)^alpha with losses 2.2-5.5 nats, 0.2% noise
    loss = noisy((1e13 / X) ** 0.1, np.random.default_rng(0), 0.002)
    fit = _fit(loss)
    assert fit.params["L_inf"] < FLOOR_COLLAPSE * loss.min()
    floor_msgs = [w for w in fit.warnings if w.startswith("the loss floor L_inf")]
    assert len(floor_msgs) == 1 and "collapsed to ~0" in floor_msgs[0]
    assert f"{loss.min():.4g}" in floor_msgs[0]  # says against what it was judged
    assert not [w for w in fit.warnings if w.startswith("parameter L_inf")]  # one message, not two


def test_a_real_floor_is_not_flagged():
    loss = noisy(1.7 + (1e13 / X) ** 0.3, np.random.default_rng(1), 0.002)
    fit = _fit(loss)
    assert fit.params["L_inf"] == pytest.approx(1.7, rel=0.05)
    assert not [w for w in fit.warnings if "collapsed" in w]


def test_the_floor_parameters_are_marked():
    floors = {name: [p.name for p in get_law(name).params if p.floor]
              for name in ("chinchilla", "dcpt", "encdec", "lr_annealing", "multi_power", "power_law")}
    assert floors == {"chinchilla": ["E"], "dcpt": ["E"], "encdec": ["L_inf"], "lr_annealing": ["L0"],
                      "multi_power": ["L0"], "power_law": ["L_inf"]}
    assert not [p.name for p in get_law("kaplan_nd").params if p.floor]  # Kaplan's form has no floor
