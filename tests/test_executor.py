"""hhlib.ode.sweeps and the ``executor`` of dataset generation: the numbers depend on the
chunking only, never on where the chunks run (this process, local processes, a dask
cluster)."""
import dataclasses
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from hhlib.ode.spikes import sweep_statistics
from hhlib.ode.data import DatasetConfig, make_dataset
from hhlib.ode.integrate import simulate_ensemble
from hhlib.ode.model import HHParams
from hhlib.ode.sweeps import chunk_bounds, isi_sweep, run_ensemble

TINY = DatasetConfig(n_train=2, n_val=1, n_test=1, t_transient=5.0, t_keep=15.0,
                     cut_len=100, rtol=1e-6, atol=1e-8, chunk_size=2)
VS = np.linspace(-44.0, -30.0, 5)
X0 = np.tile([-60.0, 0.001, 0.18], (5, 1))
T_END, T_MIN = 25.0, 5.0


class Serial:
    """The smallest executor: runs each call at once."""

    def submit(self, fn, *args):
        class Done:
            def __init__(self, value):
                self.value = value

            def result(self):
                return self.value
        return Done(fn(*args))


def _same_stats(a, b):
    """Identical statistics (NaN where undefined counts as equal) and identical ISIs."""
    (sa, ia), (sb, ib) = a, b
    assert len(sa) == len(sb) == len(ia) == len(ib)
    for x, y in zip(sa, sb):
        assert x.regime == y.regime
        assert np.array_equal(dataclasses.astuple(x)[1:], dataclasses.astuple(y)[1:],
                              equal_nan=True)
    assert all(np.array_equal(x, y) for x, y in zip(ia, ib))


def test_chunk_bounds():
    assert chunk_bounds(5, None) == [(0, 5)]
    assert chunk_bounds(5, 2) == [(0, 2), (2, 4), (4, 5)]
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="chunk_size"):
            chunk_bounds(5, bad)


def test_one_chunk_is_one_simulate_ensemble_call():
    P = HHParams(V_S=VS)
    t, X = run_ensemble(P, X0, 10.0, 0.01)
    t2, X2 = simulate_ensemble(P, X0, 10.0, 0.01)
    assert np.array_equal(t, t2) and np.array_equal(X, X2)


def test_executors_agree_bit_for_bit():
    P = HHParams(V_S=VS)
    ref = run_ensemble(P, X0, 10.0, 0.01, chunk_size=2, executor=Serial())[1]
    with ThreadPoolExecutor(2) as pool:
        threads = run_ensemble(P, X0, 10.0, 0.01, chunk_size=2, executor=pool)[1]
    local = run_ensemble(P, X0, 10.0, 0.01, chunk_size=2)[1]       # local processes
    assert np.array_equal(ref, threads) and np.array_equal(ref, local)
    # chunks are the trajectories' own ensembles: each equals a direct call
    direct = simulate_ensemble(HHParams(V_S=VS[2:4]), X0[2:4], 10.0, 0.01)[1]
    assert np.array_equal(ref[2:4], direct)


def test_isi_sweep_matches_sweep_statistics():
    P = HHParams(V_S=VS)
    t, X = simulate_ensemble(P, X0, T_END, 0.01)
    _same_stats(isi_sweep(P, X0, T_END, 0.01, t_min=T_MIN),
                sweep_statistics(t, X[:, :, 0], t_min=T_MIN))


def test_bad_arguments():
    P = HHParams(V_S=VS)
    with pytest.raises(TypeError, match="executor"):
        run_ensemble(P, X0, 1.0, 0.01, executor=object())
    with pytest.raises(ValueError, match="chunk_size"):
        run_ensemble(P, X0, 1.0, 0.01, chunk_size=0)
    with pytest.raises(ValueError, match="x0"):
        run_ensemble(P, X0[:, :2], 1.0, 0.01)
    with pytest.raises(ValueError, match="t_min"):
        isi_sweep(P, X0, 1.0, 0.01, t_min=2.0)
    with pytest.raises(ValueError, match="chunk_size"):
        DatasetConfig(chunk_size=0)


def test_dask_local_cluster_gives_identical_results():
    """The path to a cluster: a dask.distributed Client on a 2-worker LocalCluster runs the
    same sweep and the same dataset with the same seeds to the same bits."""
    distributed = pytest.importorskip("distributed")
    here_ds = make_dataset(TINY, executor=Serial())     # the same chunks, in this process
    here_sweep = isi_sweep(HHParams(V_S=VS), X0, T_END, 0.01, t_min=T_MIN, chunk_size=2,
                           executor=Serial())
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        dask_ds = make_dataset(TINY, executor=client)
        dask_sweep = isi_sweep(HHParams(V_S=VS), X0, T_END, 0.01, t_min=T_MIN, chunk_size=2,
                               executor=client)
    assert dask_ds.digest() == here_ds.digest()
    for split in ("train", "val", "test"):
        assert np.array_equal(dask_ds.trajectories[split], here_ds.trajectories[split])
    _same_stats(dask_sweep, here_sweep)
