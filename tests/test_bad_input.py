"""Bad input to every public entry point gets a TypeError/ValueError naming the argument
(issue 12): no silent wrong result, no obscure crash, no hang. Each case is one row:
(call, exception type, pattern the message must contain)."""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from hhlib.dynamics.recovery import map_fixed_points, map_jacobian
from hhlib.ode.spikes import burst_statistics, regime_transition, spike_times, sweep_statistics
from hhlib.chapter import check_parameters  # noqa: E402
from hhlib.ode.data import (DatasetConfig, distance_to_fixed_point, draw_V_S,  # noqa: E402
                            load_or_make_dataset)
from hhlib.ode.integrate import simulate  # noqa: E402
from hhlib.ode.model import HHParams, jacobian, rhs  # noqa: E402
from hhlib.ode.model import is_physical
from hhlib.maps.network import EnsembleMap, MapNet, load_pretrained, normalisation, save_pretrained
from hhlib.dynamics.recovery import compare_fixed_points
from hhlib.maps.scores import dynamics_score
from hhlib.ode.integrate import simulate_ensemble
from hhlib.ode.model import fixed_points
from hhlib.dynamics.baselines import fit_sindy
from hhlib.maps.training import TrainConfig, train
from hhlib.plotting import markdown_table, plot_isi_diagram, plot_voltage  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
P = HHParams()
X = np.array([-50.0, 0.01, 0.18])
X2 = np.array([[-50.0, 0.01, 0.18], [-40.0, 0.02, 0.19]])
T = np.linspace(0.0, 1.0, 11)
V = np.linspace(-60.0, -20.0, 11)


def small_net():
    return MapNet(0.01, (8, 8), (-44.0, -30.0), x_mean=(-50, 0.01, 0.18),
                  x_std=(10, 0.02, 0.005), d_mean=(0, 0, 0), d_std=(2, 0.01, 4e-5))


NET = small_net()


def cuts(n=8, L=5, seed=0):
    rng = np.random.default_rng(seed)
    c = np.cumsum(rng.normal(size=(n, L + 1, 3)) * [1, 0.001, 1e-5], axis=1) + [-50, 0.02, 0.18]
    return c, rng.uniform(-44, -30, n)


C, VS = cuts()
CV, VSV = cuts(4, seed=1)
C_NAN_VS = VS.copy()
C_NAN_VS[2] = np.nan
CV_NAN = CV.copy()
CV_NAN[1, 2, 0] = np.inf
TINY = TrainConfig(hidden=(4,), stages=((1, 1),), val_steps=5, batch_size=4)


def tc(**kw):
    return lambda: TrainConfig(**kw)


def dc(**kw):
    return lambda: DatasetConfig(**kw)


def tr(**kw):
    args = dict(train_cuts=C, train_V_S=VS, val_cuts=CV, val_V_S=VSV, dt=0.01, config=TINY,
                progress=False)
    args.update(kw)
    return lambda: train(**args)


def mfp(**kw):
    args = dict(net=NET, V_S=-40.0)
    args.update(kw)
    return lambda: map_fixed_points(**args)


def isi_plot(*args):
    def f():
        fig, ax = plt.subplots()
        try:
            plot_isi_diagram(*((ax,) + args if not isinstance(args[0], str) else args))
        finally:
            plt.close(fig)
    return f


def nan_weights_net():
    net = small_net()
    with torch.no_grad():
        net.mlp[0].weight[0, 0] = float("nan")
    return net


CASES = {
    # --- model: parameters, vector field, Jacobian ---------------------------------------
    "HHParams tau=None": (lambda: HHParams(tau=None), TypeError, "tau"),
    "HHParams g_Ca string": (lambda: HHParams(g_Ca="3.6"), TypeError, "g_Ca"),
    "HHParams g_K bool": (lambda: HHParams(g_K=True), TypeError, "g_K"),
    "HHParams V_S complex": (lambda: HHParams(V_S=1j), TypeError, "V_S"),
    "HHParams V_S mixed list": (lambda: HHParams(V_S=[1.0, "a"]), TypeError, "V_S"),
    "HHParams V_S object": (lambda: HHParams(V_S=object()), TypeError, "V_S"),
    "HHParams sigma < 0": (lambda: HHParams(sigma=-1.0), ValueError, "sigma"),
    "HHParams theta_S nan": (lambda: HHParams(theta_S=np.nan), ValueError, "theta_S"),
    "HHParams variant": (lambda: HHParams(variant="foo"), ValueError, "variant"),
    "HHParams original with tau_S_lo": (lambda: HHParams(tau_S_lo=1.0), ValueError, "tau_S_lo"),
    "rhs state string": (lambda: rhs("abc", P), TypeError, "state"),
    "rhs state complex": (lambda: rhs([1j, 0, 0], P), TypeError, "state"),
    "rhs state complex tensor": (lambda: rhs(torch.zeros(3, dtype=torch.complex64), P),
                                 TypeError, "state"),
    "rhs state bool tensor": (lambda: rhs(torch.tensor([True, False, True]), P), TypeError,
                              "state"),
    "rhs state (4,)": (lambda: rhs(np.zeros(4), P), ValueError, "state"),
    "rhs state (2, 2)": (lambda: rhs(np.zeros((2, 2)), P), ValueError, "state"),
    "rhs params None": (lambda: rhs(X, None), TypeError, "params"),
    "rhs params dict": (lambda: rhs(X, {"tau": 0.02}), TypeError, "params"),
    "jacobian state (5,)": (lambda: jacobian(np.zeros(5), P), ValueError, "state"),
    "jacobian params string": (lambda: jacobian(X, "original"), TypeError, "params"),
    "simulate x0 string": (lambda: simulate(P, "abc", 1.0, 0.01), TypeError, "x0"),
    "simulate params string": (lambda: simulate("original", X, 1.0, 0.01), TypeError, "params"),
    "simulate rtol string": (lambda: simulate(P, X, 1.0, 0.01, rtol="1e-6"), TypeError, "rtol"),
    "simulate atol array": (lambda: simulate(P, X, 1.0, 0.01, atol=[1e-8, 1e-8]), TypeError,
                            "atol"),
    "simulate x0 torch with grad": (lambda: simulate(
        P, torch.tensor(X, requires_grad=True), 1.0, 0.01), TypeError, "x0"),
    # --- network: construction and the array interface ----------------------------------
    "MapNet dt 0": (lambda: MapNet(0.0), ValueError, "dt"),
    "MapNet dt bool": (lambda: MapNet(True), ValueError, "dt"),
    "MapNet hidden 0": (lambda: MapNet(0.01, hidden=(8, 0)), ValueError, "hidden"),
    "MapNet hidden float": (lambda: MapNet(0.01, hidden=(8.5,)), ValueError, "hidden"),
    "MapNet hidden string": (lambda: MapNet(0.01, hidden="88"), TypeError, "hidden"),
    "MapNet V_S_range reversed": (lambda: MapNet(0.01, V_S_range=(-30, -44)), ValueError,
                                  "V_S_range"),
    "MapNet V_S_range nan": (lambda: MapNet(0.01, V_S_range=(-44, np.nan)), ValueError,
                             "V_S_range"),
    "MapNet x_std 0": (lambda: MapNet(0.01, x_std=(1, 0, 1)), ValueError, "x_std"),
    "MapNet x_mean (2,)": (lambda: MapNet(0.01, x_mean=(1, 2)), ValueError, "x_mean"),
    "MapNet variant": (lambda: MapNet(0.01, variant="foo"), ValueError, "variant"),
    "step x string": (lambda: NET.step("abc", -40.0), TypeError, "x"),
    "step x (2, 4)": (lambda: NET.step(np.zeros((2, 4)), -40.0), ValueError, "x"),
    "step V_S string": (lambda: NET.step(X, "abc"), TypeError, "V_S"),
    "step V_S wrong length": (lambda: NET.step(X2, np.zeros(3)), ValueError, "V_S"),
    "step V_S nan": (lambda: NET.step(X, np.nan), ValueError, "V_S"),
    "rollout n_steps float": (lambda: NET.rollout(X, -40.0, 2.5), ValueError, "n_steps"),
    "rollout n_steps bool": (lambda: NET.rollout(X, -40.0, True), ValueError, "n_steps"),
    "rollout grad string": (lambda: NET.rollout(X, -40.0, 3, grad="yes"), TypeError, "grad"),
    "rollout x0 complex tensor": (lambda: NET.rollout(torch.zeros(3, dtype=torch.complex64),
                                                      -40.0, 3), TypeError, "x0"),
    "is_physical (3,)": (lambda: is_physical(np.zeros(3)), ValueError, "X"),
    "normalisation (2, 3)": (lambda: normalisation(np.zeros((2, 3))), ValueError, "cuts"),
    # --- TrainConfig ---------------------------------------------------------------------
    "TrainConfig stages K 0": (tc(stages=((0, 3),)), ValueError, "stages"),
    "TrainConfig stages 1:20,8": (tc(stages=((1, 20), (8,))), ValueError, "stages"),
    "TrainConfig stages empty": (tc(stages=()), ValueError, "stages"),
    "TrainConfig stages string": (tc(stages="1:20"), TypeError, "stages"),
    "TrainConfig stages float K": (tc(stages=((1.5, 3),)), ValueError, "stages"),
    "TrainConfig patience 0": (tc(patience=0), ValueError, "patience"),
    "TrainConfig batch_size float": (tc(batch_size=2.5), ValueError, "batch_size"),
    "TrainConfig val_steps bool": (tc(val_steps=True), ValueError, "val_steps"),
    "TrainConfig seed < 0": (tc(seed=-1), ValueError, "seed"),
    "TrainConfig lr 0": (tc(lr=0.0), ValueError, "lr"),
    "TrainConfig lr nan": (tc(lr=math.nan), ValueError, "lr"),
    "TrainConfig lr string": (tc(lr="0.01"), TypeError, "lr"),
    "TrainConfig lr_final inf": (tc(lr_final=math.inf), ValueError, "lr_final"),
    "TrainConfig max_minutes nan": (tc(max_minutes=math.nan), ValueError, "max_minutes"),
    "TrainConfig select_from_epoch beyond schedule": (
        tc(stages=((1, 10),), select_from_epoch=11), ValueError, "select_from_epoch"),
    "TrainConfig hidden 0": (tc(hidden=(0,)), ValueError, "hidden"),
    # --- train ---------------------------------------------------------------------------
    "train NaN in train_V_S": (tr(train_V_S=C_NAN_VS), ValueError, "train_V_S"),
    "train inf in val_cuts": (tr(val_cuts=CV_NAN), ValueError, "val_cuts"),
    "train train_cuts (N, 3)": (tr(train_cuts=C[:, 0]), ValueError, "train_cuts"),
    "train train_V_S length": (tr(train_V_S=VS[:-1]), ValueError, "train_V_S"),
    "train config string": (tr(config="fast"), TypeError, "config"),
    "train K > cut length": (tr(config=TrainConfig(hidden=(4,), stages=((9, 1),), val_steps=5)),
                             ValueError, "stages"),
    "train val_steps > cut length": (tr(config=TrainConfig(hidden=(4,), stages=((1, 1),),
                                                           val_steps=50)),
                                     ValueError, "val_steps"),
    "train val_trajectories without V_S": (tr(val_trajectories=CV), ValueError, "val_traj_V_S"),
    "train dt nan": (tr(dt=math.nan), ValueError, "dt"),
    # --- saving weights (nothing is written in any of these) ----------------------------
    "save reserved sha256": (lambda: save_pretrained(NET, "x", {"sha256": "0"}, "/nonexistent"),
                             ValueError, "sha256"),
    "save reserved config": (lambda: save_pretrained(NET, "x", {"config": {}}, "/nonexistent"),
                             ValueError, "config"),
    "save record object": (lambda: save_pretrained(NET, "x", {"v": object()}, "/nonexistent"),
                           TypeError, "record"),
    "save record not dict": (lambda: save_pretrained(NET, "x", [1], "/nonexistent"), TypeError,
                             "record"),
    "save name path": (lambda: save_pretrained(NET, "../x", {}, "/nonexistent"), ValueError,
                       "name"),
    "save name empty": (lambda: save_pretrained(NET, "", {}, "/nonexistent"), ValueError,
                        "name"),
    "save net not MapNet": (lambda: save_pretrained(torch.nn.Linear(2, 2), "x", {},
                                                    "/nonexistent"), TypeError, "net"),
    "save non-finite weights": (lambda: save_pretrained(nan_weights_net(), "x", {},
                                                        "/nonexistent"), ValueError, "non-finite"),
    "load name int": (lambda: load_pretrained(5), ValueError, "name"),
    # --- DatasetConfig and the dataset -----------------------------------------------------
    "DatasetConfig n_test=200 (no room to draw)": (dc(n_test=200), ValueError, "min_gap"),
    "DatasetConfig min_gap nan": (dc(min_gap=math.nan), ValueError, "min_gap"),
    "DatasetConfig min_gap 20": (dc(min_gap=20.0), ValueError, "min_gap"),
    "DatasetConfig min_gap < 0": (dc(min_gap=-1.0), ValueError, "min_gap"),
    "DatasetConfig n_train float": (dc(n_train=2.0), ValueError, "n_train"),
    "DatasetConfig n_train bool": (dc(n_train=True), ValueError, "n_train"),
    "DatasetConfig dt string": (dc(dt="0.01"), TypeError, "dt"),
    "DatasetConfig V_S_range reversed": (dc(V_S_range=(-30.0, -44.0)), ValueError, "V_S_range"),
    "DatasetConfig V_S_range (1,)": (dc(V_S_range=(-44.0,)), ValueError, "V_S_range"),
    "DatasetConfig variant None": (dc(variant=None), ValueError, "variant"),
    "DatasetConfig rtol 1.5": (dc(rtol=1.5), ValueError, "rtol"),
    "DatasetConfig t_keep not multiple of dt": (dc(t_keep=60.005), ValueError, "t_keep"),
    "DatasetConfig chunk_size 0": (dc(chunk_size=0), ValueError, "chunk_size"),
    "DatasetConfig cut_len beyond t_keep": (dc(cut_len=10000), ValueError, "t_keep"),
    "load_or_make_dataset config string": (lambda: load_or_make_dataset("original"), TypeError,
                                           "config"),
    "draw_V_S config dict": (lambda: draw_V_S({"n_train": 3}), TypeError, "config"),
    "distance_to_fixed_point states (4,)": (lambda: distance_to_fixed_point(np.zeros(4), -40.0),
                                            ValueError, "states"),
    # --- analysis ----------------------------------------------------------------------
    "map_fixed_points tol 0": (mfp(tol=0.0), ValueError, "tol"),
    "map_fixed_points tol < 0": (mfp(tol=-1.0), ValueError, "tol"),
    "map_fixed_points tol nan": (mfp(tol=math.nan), ValueError, "tol"),
    "map_fixed_points tol string": (mfp(tol="1e-10"), TypeError, "tol"),
    "map_fixed_points max_iter 0": (mfp(max_iter=0), ValueError, "max_iter"),
    "map_fixed_points dedup < 0": (mfp(dedup=-1.0), ValueError, "dedup"),
    "map_fixed_points V_S array": (mfp(V_S=[-40.0, -38.0]), TypeError, "V_S"),
    "map_fixed_points V_S string": (mfp(V_S="x"), TypeError, "V_S"),
    "map_fixed_points V_S nan": (mfp(V_S=math.nan), ValueError, "V_S"),
    "map_fixed_points starts (3,)": (mfp(starts=X), ValueError, "starts"),
    "map_fixed_points starts nan": (mfp(starts=np.full((2, 3), np.nan)), ValueError, "starts"),
    "map_fixed_points domain (2, 2)": (mfp(domain=((0, 1), (0, 1))), ValueError, "domain"),
    "map_fixed_points net string": (mfp(net="original"), TypeError, "net"),
    "map_jacobian x (4,)": (lambda: map_jacobian(NET, np.zeros(4), -40.0), ValueError, "x"),
    "map_jacobian V_S shape": (lambda: map_jacobian(NET, X2, np.zeros(3)), ValueError, "V_S"),
    "map_jacobian net string": (lambda: map_jacobian("net", X, -40.0), TypeError, "net"),
    "burst_statistics gap_ratio 1": (lambda: burst_statistics(T, V, gap_ratio=1.0), ValueError,
                                     "gap_ratio"),
    "burst_statistics t_min string": (lambda: burst_statistics(T, V, t_min="0"), TypeError,
                                      "t_min"),
    "spike_times V string": (lambda: spike_times(T, "abc"), TypeError, "V"),
    "spike_times threshold nan": (lambda: spike_times(T, V, threshold=math.nan), ValueError,
                                  "threshold"),
    "sweep_statistics t 2-D": (lambda: sweep_statistics(np.zeros((2, 11)), V[None]), ValueError,
                               "t"),
    "regime_transition regimes string": (lambda: regime_transition([1.0, 2.0], "rt"),
                                         TypeError, "regimes"),
    "regime_transition before unknown": (lambda: regime_transition([1.0, 2.0], ["rest", "tonic"],
                                                                   before="bursts"),
                                         ValueError, "before"),
    # --- plotting ----------------------------------------------------------------------
    "plot_isi_diagram V_S scalar": (isi_plot(-40.0, [np.ones(2)]), ValueError, "V_S"),
    "plot_isi_diagram isis too short": (isi_plot([1.0, 2.0], [np.ones(2)]), ValueError, "isis"),
    "plot_isi_diagram isis 2-D entry": (isi_plot([1.0], [np.ones((2, 2))]), ValueError,
                                        r"isis\[0\]"),
    "plot_isi_diagram isis int": (isi_plot([1.0], 5), TypeError, "isis"),
    "plot_isi_diagram ax string": (isi_plot("ax", [1.0], [np.ones(2)]), TypeError, "ax"),
    "plot_voltage lengths": (lambda: plot_voltage(plt.gca(), T, V[:-1]), ValueError, "t and V"),
    "markdown_table short row": (lambda: markdown_table(["a", "b"], [[1]]), ValueError, "rows"),
    # --- issue 27: checks of meaning, sizes before work, causes named ----------------------
    "compare_fixed_points wrong model": (lambda: compare_fixed_points(
        NET, HHParams.bistable(), [-40.0]), ValueError, "variant 'original'"),
    "compare_fixed_points ode_index 1": (lambda: compare_fixed_points(
        NET, P, [-40.0], ode_index=1), ValueError, "ode_index 1 is out of range"),
    "compare_fixed_points ode_index 1.0": (lambda: compare_fixed_points(
        NET, P, [-40.0], ode_index=1.0), TypeError, "ode_index"),
    "map_fixed_points tol 1e-20": (mfp(tol=1e-20), ValueError, r"tol must be >= 1e-14"),
    "fixed_points grid 0": (lambda: fixed_points(P, grid=0), ValueError, "grid must be"),
    "fixed_points grid 3": (lambda: fixed_points(P, grid=3), ValueError, "grid must be"),
    "fixed_points grid float": (lambda: fixed_points(P, grid=2e4), ValueError, "grid"),
    "dynamics_score no trajectories": (lambda: dynamics_score(NET, np.zeros((0, 10, 3)), []),
                                       ValueError, "trajectories must have shape"),
    "train silent 1 s references": (tr(val_trajectories=np.tile([-60.0, 0.001, 0.18], (2, 101, 1)),
                                       val_traj_V_S=[-40.0, -38.0]), ValueError,
                                    "fewer than two spikes"),
    "simulate_ensemble atol 1.0": (lambda: simulate_ensemble(
        P.replace(V_S=np.array([-38.0, -34.0])), X2, 1.0, 0.01, rtol=1e-6, atol=1.0),
        ValueError, r"atol must lie in \(0, 0.001\]"),
    "simulate_ensemble rtol 0.05": (lambda: simulate_ensemble(
        P.replace(V_S=np.array([-38.0, -34.0])), X2, 1.0, 0.01, rtol=0.05, atol=1e-3),
        ValueError, "rtol must lie in"),
    "DatasetConfig rtol 0.05": (dc(rtol=0.05), ValueError, "rtol"),
    "DatasetConfig atol 1.0": (dc(atol=1.0), ValueError, "atol"),
    "load_or_make_dataset n_train 1e8": (lambda: load_or_make_dataset(
        DatasetConfig(n_train=10**8), "/nonexistent-never-built"), ValueError, "n_train"),
    "draw_V_S n_train 1e6": (lambda: draw_V_S(DatasetConfig(n_train=10**6)), ValueError,
                             "n_train"),
    "load_or_make_dataset cache_dir ''": (lambda: load_or_make_dataset(DatasetConfig(), ""),
                                          ValueError, "cache_dir"),
    "save_pretrained ensemble": (lambda: save_pretrained(EnsembleMap([small_net(), small_net()]),
                                                         "e", {}, "/nonexistent"),
                                 TypeError, "EnsembleMap"),
    "save_pretrained name 236 chars": (lambda: save_pretrained(NET, "n" * 236, {}, "/nonexistent"),
                                       ValueError, "at most 200 bytes"),
    "load_pretrained name 236 chars": (lambda: load_pretrained("n" * 236), ValueError,
                                       "at most 200 bytes"),
    "simulate dt 1e-12 (7 TiB)": (lambda: simulate(P, X, 1.0, 1e-12), ValueError,
                                  "t_end / dt must be at most"),
    "simulate t_end 1e300 dt 1e-10": (lambda: simulate(P, X, 1e300, 1e-10), ValueError,
                                      "t_end / dt"),
    "simulate_ensemble max_steps 2**63": (lambda: simulate_ensemble(
        P, X2, 1.0, 0.01, max_steps=2**63), ValueError, r"max_steps must be an integer in"),
    "rollout n_steps 1e13": (lambda: NET.rollout(X2, -40.0, 10**13), ValueError,
                             "n_steps = 10000000000000"),
    "fit_sindy one V_S value": (lambda: fit_sindy(C, np.full(len(C), -40.0), 0.01),
                                ValueError, "cut_V_S must hold at least two"),
    # --- chapters' papermill parameters ------------------------------------------------
    "chapter fast='false'": (lambda: check_parameters(fast="false"), TypeError, "fast"),
    "chapter retrain='no'": (lambda: check_parameters(retrain="no"), TypeError, "retrain"),
    "chapter fast=1": (lambda: check_parameters(fast=1), TypeError, "fast"),
    "chapter unknown name": (lambda: check_parameters(speed=True), TypeError, "speed"),
    "chapter network=3": (lambda: check_parameters(network=3), TypeError, "network"),
    "chapter network=''": (lambda: check_parameters(network=""), TypeError, "network"),
    "chapter weights_dir=None": (lambda: check_parameters(weights_dir=None), TypeError,
                                 "weights_dir"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_a_clear_error(name):
    call, exc, pattern = CASES[name]
    with pytest.raises(exc, match=pattern):
        call()


def test_enough_cases():
    assert len(CASES) + len(CLI_CASES) >= 80


def test_good_chapter_parameters_pass():
    check_parameters(fast=True, retrain=False)
    check_parameters(network="my-net", weights_dir="")
    check_parameters(fast=np.bool_(False))


# --------------------------------------------------------------------------- the training CLI
def _script():
    spec = importlib.util.spec_from_file_location("train_network_cli",
                                                  REPO / "scripts" / "train_network.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


CLI_CASES = {
    "stages 0:5": (["--stages", "0:5"], "--stages"),
    "stages 1:20,8": (["--stages", "1:20,8"], "--stages"),
    "stages K beyond cut length": (["--stages", "1:5,200:3"], "--stages"),
    "patience 0": (["--patience", "0"], "--patience"),
    "max-minutes nan": (["--max-minutes", "nan"], "--max-minutes"),
    "max-minutes -1": (["--max-minutes", "-1"], "--max-minutes"),
    "threads 0": (["--threads", "0"], "--threads"),
    "seed -1": (["--seed", "-1"], "--seed"),
    "select-from-epoch beyond schedule": (["--stages", "1:5", "--select-from-epoch", "6"],
                                          "select_from_epoch"),
    "name with a path": (["--name", "../x"], "--name"),
    "variant unknown": (["--variant", "foo"], "--variant"),
    "out unwritable": (["--out", "FILE"], "--out"),
    "out empty (an unset shell variable)": (["--out", ""], "--out"),
    "name of 236 characters": (["--name", "n" * 236], "--name"),
}


@pytest.mark.parametrize("name", list(CLI_CASES))
def test_cli_rejects_bad_arguments_before_any_work(name, monkeypatch, tmp_path, capsys):
    argv, pattern = CLI_CASES[name]
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    argv = [str(blocker / "sub") if a == "FILE" else a for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "weights")]
    mod = _script()

    def no_work(*a, **k):
        raise AssertionError("the dataset was built before the arguments were checked")
    monkeypatch.setattr(mod, "load_or_make_dataset", no_work)
    monkeypatch.setattr(mod, "train", no_work)
    with pytest.raises(SystemExit) as e:
        mod.main(argv)
    assert e.value.code == 2
    assert pattern in capsys.readouterr().err
    assert not list((tmp_path / "weights").glob("*")) if (tmp_path / "weights").exists() else True
