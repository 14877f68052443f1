"""pipeline.extrapolate_curves: which points a curve model is given, and which it is scored on."""

import numpy as np
import pytest

from idelearn import pipeline
from idelearn.models.base import Model


class Recorder(Model):
    """Returns the curves' true values after the given points + 1, and remembers what it was given."""

    name = "recorder"

    def __init__(self, truth):
        super().__init__(config=None)
        self.truth = truth

    def extrapolate(self, G_known, t, *, F=None, I_known=None):
        self.given, self.t = G_known.copy(), t.copy()
        out = self.truth[:, -len(t):] + 1.0
        out[:, : G_known.shape[1]] = G_known
        return out


@pytest.mark.parametrize("start", [0, 20])  # our first-20 test, and paper 2's shifted Table 5 test
def test_given_points_and_scored_points(tmp_path, start):
    curves = np.random.default_rng(0).normal(size=(3, 100, 2))
    np.save(tmp_path / "c.npy", curves)
    model = Recorder(curves)
    trained = {"shape": [2], "config": {"name": "from_file"}}
    pred = pipeline.extrapolate_curves(model, trained, pipeline.Curves(str(tmp_path / "c.npy")), 20, 1e6, start=start)
    np.testing.assert_array_equal(model.given, curves[:, start:start + 20])
    t = np.linspace(0, 1, 100)
    np.testing.assert_allclose(model.t, t[: 100 - start])  # times count from the given segment's first point
    m = pred.metrics()
    assert m["context"] == 20 and m["start"] == start
    scored = 100 - start - 20
    assert m["max_abs"] == pytest.approx(1.0) and len(m["mae_per_time"]) == scored  # exact: pred = true + 1
    np.testing.assert_array_equal(pred.G_true, curves[:, start:])
