"""The shipped bistable network (chapter "Bistability"): at two values of V_S inside the
ODE's bistable interval, its fixed point is stable like the ODE's, and it shows both
attractors: rest from near its fixed point, bursting from a start on the bursting attractor.
The full comparison (fixed point, eigenvalues, Hopf point, basins) is in
book/06_bistability.md."""
import numpy as np
import pytest

from hhlib.dynamics.recovery import map_fixed_points
from hhlib.dynamics.attractors import basins, map_runner
from hhlib.ode.model import HHParams, fixed_points
from hhlib.maps.network import WEIGHTS_DIR

pytestmark = pytest.mark.skipif(not (WEIGHTS_DIR / "bistable.pt").exists(),
                                reason="shipped weights hhlib/weights/bistable.pt missing")


@pytest.fixture(scope="module")
def shipped():
    import torch
    from hhlib.maps.network import load_pretrained
    torch.set_num_threads(1)
    return load_pretrained("bistable")


@pytest.mark.parametrize("vs", [-21.3, -21.5])
def test_stable_rest_coexists_with_bursting(shipped, vs):
    net, _ = shipped
    ode = fixed_points(HHParams.bistable(V_S=vs))[0]
    assert ode.stable
    found = map_fixed_points(net, vs)            # default starts: no knowledge of the ODE's
    fp = min(found, key=lambda p: abs(p.state[0] - ode.state[0]))
    assert abs(fp.state[0] - ode.state[0]) < 1.0
    assert fp.stable and not fp.aliased
    lab = basins(map_runner(net), vs, np.stack([fp.state + [0.1, 0, 0], [-45.0, 0.01, 0.2]]),
                 100.0, 30.0, "bistable", fp.state)
    assert lab.tolist() == [0, 1], "expected rest from the fixed point, bursting from the attractor"


def test_bistable_record_is_complete(shipped):
    """The record names the variant, the regeneration command and a training time within
    budget (that the data are reproduced: tests/test_datasets_reproduced.py)."""
    net, rec = shipped
    assert net.variant == "bistable" and rec["dataset_config"]["variant"] == "bistable"
    assert rec["train_seconds"] < 15 * 60
    assert "--variant bistable" in rec["command"]
