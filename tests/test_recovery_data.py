"""hhlib.recovery: does the fixed-point error follow the data (issue 11, item 4)?"""
import numpy as np
import pytest

from hhlib.model import HHParams, fixed_points
from hhlib.recovery import (FixedPointChecks, data_proximity, error_in_tolerances,
                            follows_data)


def test_data_proximity_is_the_closest_approach_of_the_nearest_trajectory():
    P = HHParams()
    vs = np.array([-40.0, -35.0])
    fp = np.stack([fixed_points(P.replace(V_S=v))[0].state for v in vs])
    scale = np.array([10.0, 0.1, 0.01])
    # trajectory k passes its own fixed point at exactly (k + 1) spreads along V
    T = np.linspace(-3, 3, 61)
    traj = np.stack([fp[k] + np.column_stack([(k + 1) * 10.0 + T ** 2, 0 * T, 0 * T])
                     for k in range(2)])
    d = data_proximity(traj, vs, P, [-41.0, -37.6, -30.0], scale)
    assert np.allclose(d, [1.0, 1.0, 2.0])            # nearest in V_S: first, first, second
    with pytest.raises(ValueError, match="scale"):
        data_proximity(traj, vs, P, [-40.0], [1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="traj_V_S"):
        data_proximity(traj, vs[:1], P, [-40.0], scale)
    with pytest.raises(TypeError, match="params"):
        data_proximity(traj, vs, "original", [-40.0], scale)


def _checks(err, tol=(0.5, 0.005, 0.002)):
    err = np.asarray(err, dtype=float)
    k = len(err)
    z = np.zeros(k, bool)
    return FixedPointChecks(V_S=np.arange(k, dtype=float), tol=np.asarray(tol), err=err,
                            fp_ok=z, type_ok=z, big=np.zeros((k, 3), bool),
                            rel_big=np.zeros((k, 3)), score=np.zeros((k, 3)), eig_ok=z,
                            char_ok=z, map_complex=z, ode_complex=z)


def test_error_in_tolerances_takes_the_worst_coordinate_and_nan_as_inf():
    e = error_in_tolerances(_checks([[0.25, 0.001, 0.004], [np.nan, np.nan, np.nan]]))
    assert e[0] == pytest.approx(2.0) and np.isinf(e[1])
    with pytest.raises(TypeError, match="checks"):
        error_in_tolerances({"err": 1})


def test_follows_data_reads_the_sign_and_significance():
    d = np.linspace(0.1, 2.0, 20)
    up = follows_data(d, d ** 2)
    assert up["rho"] == pytest.approx(1.0) and up["p"] < 1e-6 and "grows" in up["text"]
    down = follows_data(d, 1 / d)
    assert down["rho"] == pytest.approx(-1.0) and "opposite" in down["text"]
    flat = follows_data(d, (d - d.mean()) ** 2)      # a valley: no monotone relation
    assert abs(flat["rho"]) < 0.1 and "does not follow" in flat["text"]
    inf_last = follows_data([0.1, 0.2, 0.3, 0.4], [1.0, 2.0, 3.0, np.inf])
    assert inf_last["rho"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="NaN"):
        follows_data([0.1, 0.2, 0.3], [1.0, np.nan, 2.0])
    with pytest.raises(ValueError, match="same length"):
        follows_data([0.1, 0.2], [1.0, 2.0])
