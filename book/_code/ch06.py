"""Chapter 6's figures: the fast-slow planes, the slow eigenvalues, rest against bursting,
the bistable area, the network's fixed points and the basins; each draws what it is given."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from hhlib.dynamics.attractors import ode_runner
from hhlib.dynamics.bistability import FixedPointBranch, MapBranchComparison
from hhlib.ode.model import fast_equilibria, fixed_points, gates, slow_time_constant
from hhlib.plotting import plot_voltage

__all__ = ["plot_fast_slow_planes", "plot_slow_eigenvalues", "plot_rest_and_burst",
           "plot_area", "plot_network_fixed_points", "plot_basins"]


def _slow_pair(eigenvalues) -> np.ndarray:
    """The two slow eigenvalues (m, 2): all but the most negative (the fast one)."""
    return np.sort_complex(np.asarray(eigenvalues, dtype=complex))[:, 1:]


def plot_fast_slow_planes(panels, x_burst, V_axis):
    """One (V, S) plane per ``(params, V_S, title)`` of ``panels``: the fast subsystem's
    Z-curve of equilibria (solid stable, dashed unstable), the S-nullcline (grey), a
    bursting trajectory from ``x_burst`` after 60 s and the fixed points (filled if stable);
    a last panel shows tau_S(V) of each on ``V_axis`` (mV). Returns the figure."""
    fig, axs = plt.subplots(1, len(panels) + 1, figsize=(10, 3.4),
                            gridspec_kw={"width_ratios": [1] * len(panels) + [0.8]})
    Vz = np.linspace(-74.0, -10.0, 2000)
    for ax, (P, vs, title) in zip(axs, panels):
        p = P.replace(V_S=vs)
        Sz, stable_z = fast_equilibria(Vz, p)
        for mask, ls in ((stable_z, "-"), (~stable_z, "--")):
            ax.plot(Vz, np.where(mask, Sz, np.nan), "k", ls=ls, lw=1.4)
        ax.plot(Vz, gates(Vz, p)[2], color="0.6", lw=1.2)
        t, X = ode_runner(p, 0.01)(vs, x_burst, 150.0)
        late = t > 60
        ax.plot(X[0, late, 0], X[0, late, 2], color="C0", lw=0.4, alpha=0.8)
        for fp in fixed_points(p):
            ax.plot(fp.state[0], fp.state[2], "o", ms=6, mec="C3",
                    mfc="C3" if fp.stable else "white", zorder=5)
        lo, hi = np.nanpercentile(X[0, late, 2], [0, 100])
        ax.set_ylim(lo - 0.5 * (hi - lo), hi + 0.5 * (hi - lo))
        ax.set_xlim(-75, -10)
        ax.set_xlabel("V (mV)")
        ax.set_ylabel("S")
        ax.set_title(f"{title}, $V_S$ = {vs} mV")
    for k, (P, _, title) in enumerate(panels):
        axs[-1].plot(V_axis, slow_time_constant(V_axis, P), "-" if k else "--", label=title)
    axs[-1].set_yscale("log")
    axs[-1].set_xlabel("V (mV)")
    axs[-1].set_ylabel(r"$\tau_S(V)$ (s)")
    # Above this narrow panel, where the other panels have their titles: inside it the
    # legend hid the curves.
    axs[-1].legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), borderaxespad=0.2)
    return fig


def _eigen_axes(axs, V_S_hopf):
    for ax, lab in zip(axs, (r"Re $\lambda$ (1/s)", r"|Im $\lambda$| (1/s)")):
        ax.axvline(V_S_hopf, color="C3", ls=":")
        ax.set_xlabel(r"$V_S$ (mV)")
        ax.set_ylabel(lab)
    axs[0].axhline(0, color="0.5", lw=0.8)
    axs[0].set_ylim(-1, 6)


def plot_slow_eigenvalues(branch: FixedPointBranch, V_S_hopf: float):
    """Real (left) and imaginary (right) parts of the branch's slow pair against V_S, the
    Hopf point dotted. Returns the figure."""
    slow = _slow_pair(branch.eigenvalues)
    fig, axs = plt.subplots(1, 2, figsize=(8, 3))
    for k in range(2):
        axs[0].plot(branch.V_S, slow[:, k].real, "k.", ms=2)
        axs[1].plot(branch.V_S, np.abs(slow[:, k].imag), "k.", ms=2)
    _eigen_axes(axs, V_S_hopf)
    return fig


def plot_rest_and_burst(ax, t, X_rest, X_burst, labels=(None, None), title=None):
    """Voltage of a run that rests (grey, thick) over one that bursts (black) on ``ax``."""
    plot_voltage(ax, t, np.asarray(X_burst)[:, 0], color="k", label=labels[1])
    plot_voltage(ax, t, np.asarray(X_rest)[:, 0], color="0.6", lw=2, label=labels[0])
    if labels[0] or labels[1]:
        ax.legend(loc="upper right")
    if title:
        ax.set_title(title)
    return ax


def plot_area(area: dict, offsets, values, field_label: str):
    """The plane of :func:`bistable_region`: V_S relative to each row's Hopf point
    (``offsets``, mV) against the row's parameter ``values``; red bistable, grey rest only,
    blue bursting only. Returns the figure."""
    code = np.where(area["bistable"], 2, np.where(area["stable"], 0, 1))
    offsets = np.asarray(offsets, dtype=float)
    fig, ax = plt.subplots(figsize=(7, 3))
    cmap = plt.matplotlib.colors.ListedColormap(["0.88", "#9ecae1", "#de2d26"])
    d = offsets[1] - offsets[0]
    ax.pcolormesh(np.r_[offsets - d / 2, offsets[-1] + d / 2],
                  np.r_[np.arange(len(values)) - 0.5, len(values) - 0.5], code, cmap=cmap,
                  vmin=0, vmax=2)
    ax.set_yticks(range(len(values)), [f"{v:g}" for v in values])
    ax.axvline(0, color="k", lw=0.8, ls=":")
    ax.set_xlabel(r"$V_S - V_{S,\mathrm{Hopf}}$ (mV)")
    ax.set_ylabel(field_label)
    return fig


def plot_network_fixed_points(cmp: MapBranchComparison, ode: FixedPointBranch,
                              dense: FixedPointBranch, net_states, trained_low: float,
                              window: tuple[float, float], V_S_hopf: float):
    """The map's fixed point (orange) against the ODE's (black): V* (left, ``ode`` on the
    comparison grid) and the slow pair's real and imaginary parts (``dense``: the ODE's on a
    finer grid); grey below ``trained_low`` (mV), red over the ``window``. Returns the figure."""
    slow, slow_net = _slow_pair(dense.eigenvalues), _slow_pair(cmp.eigenvalues)
    fig, axs = plt.subplots(1, 3, figsize=(10, 3))
    axs[0].plot(ode.V_S, ode.states[:, 0], "k-", label="ODE")
    axs[0].plot(cmp.V_S, np.asarray(net_states)[:, 0], "o", color="C1", ms=3, label="network")
    axs[0].set_ylabel(r"$V^*$ (mV)")
    axs[0].legend()
    for k in range(2):
        axs[1].plot(dense.V_S, slow[:, k].real, "k.", ms=1.5)
        axs[2].plot(dense.V_S, np.abs(slow[:, k].imag), "k.", ms=1.5)
        axs[1].plot(cmp.V_S, slow_net[:, k].real, "o", color="C1", ms=3)
        axs[2].plot(cmp.V_S, np.abs(slow_net[:, k].imag), "o", color="C1", ms=3)
    _eigen_axes(axs[1:], V_S_hopf)
    for ax in axs:
        ax.axvspan(cmp.V_S[0], trained_low, color="0.85", alpha=0.5, lw=0)
        ax.axvspan(*window, color="C3", alpha=0.15, lw=0)
        ax.axvline(V_S_hopf, color="C3", ls=":")
        ax.set_xlabel(r"$V_S$ (mV)")
    return fig


def plot_basins(Vg, Sg, labels_ode, labels_net, rest_state):
    """Basins on a (V, S) grid: rest grey, bursting blue, neither black, for the ODE and the
    network, and the cells where they differ (red); the cross marks ``rest_state``."""
    shape = (len(Sg), len(Vg))
    fig, axs = plt.subplots(1, 3, figsize=(10, 3), sharey=True)
    cmap = plt.matplotlib.colors.ListedColormap(["0.75", "#9ecae1", "k"])
    for ax, lab, title in ((axs[0], labels_ode, "ODE"), (axs[1], labels_net, "network")):
        ax.pcolormesh(Vg, Sg, np.reshape(lab, shape), cmap=cmap, vmin=0, vmax=2,
                      shading="nearest")
        ax.set_title(title)
    differ = np.asarray(labels_ode) != np.asarray(labels_net)
    axs[2].pcolormesh(Vg, Sg, differ.reshape(shape), cmap="Reds", vmin=0, vmax=1.5,
                      shading="nearest")
    axs[2].set_title("disagreement")
    for ax in axs:
        ax.plot(rest_state[0], rest_state[2], "x", color="C3")
        ax.set_xlabel("V (mV)")
    axs[0].set_ylabel("S")
    return fig
