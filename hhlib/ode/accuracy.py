"""Work and precision of ODE solvers on the model: stiffness along an orbit, explicit step
sizes against their stability bound, solver errors against a tight reference, and CPU or
wall time per trajectory (chapter "Stiff integration").

Every function takes arrays and :class:`~hhlib.ode.model.HHParams` and returns plain numbers,
arrays or small frozen records; the records' ``summary`` methods give the values a chapter
glues, under the names it glues them by, and ``report`` methods the text it prints. Times
in s, V in mV, eigenvalues in 1/s. Timings (CPU or wall) depend on the machine and its load:
they are measured, never compared with stored values.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
from scipy.integrate import solve_ivp

from ..checks import instance, integer, number, one_of
from .integrate import simulate, simulate_ensemble
from .model import HHParams, check_params, jacobian, scalar_field
from .spikes import spike_times

__all__ = ["DOPRI5_STABILITY", "SOLVERS", "OrbitStiffness", "orbit_stiffness",
           "silent_phase", "ExplicitSteps", "explicit_steps", "Reference",
           "reference_solution", "cpu_best", "run_solver", "WorkPrecision", "work_precision",
           "EnsembleSpeedup", "ensemble_speedup", "listed"]

# Where the stability region of the Dormand-Prince 5(4) pair (RK45) meets the negative
# real axis: an explicit step h is stable for a real eigenvalue lambda < 0 while
# h |lambda| < 3.31 (Hairer & Wanner, Solving ODEs II).
DOPRI5_STABILITY = 3.31
# The solvers work_precision knows: SciPy's through hhlib.ode.integrate.simulate, and the
# compiled Dormand-Prince pair of simulate_ensemble ("ensemble") with a batch of one.
SOLVERS = ("RK45", "RK23", "DOP853", "LSODA", "BDF", "Radau", "ensemble")


# ----------------------------------------------------------------------------- validation
def _median(a: np.ndarray) -> float:
    """Median, NaN (without a warning) for no values: e.g. no burst steps at rest."""
    return float(np.median(a)) if a.size else float("nan")


def _scalar_params(params: Any) -> HHParams:
    check_params(params)
    if not params.is_scalar():
        raise ValueError("params must hold one parameter set (scalar fields)")
    return params


def _array(value: Any, name: str, ndim: int, cols: int | None = None) -> np.ndarray:
    if isinstance(value, (str, bytes)) or hasattr(value, "detach"):
        raise TypeError(f"{name} must be a NumPy array, got {type(value).__name__}")
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != ndim or (cols is not None and arr.shape[-1] != cols):
        want = f"(N, {cols})" if cols else f"{ndim}-D"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    return arr.astype(float, copy=False)


def _time_series(t: Any, X: Any) -> tuple[np.ndarray, np.ndarray]:
    t, X = _array(t, "t", 1), _array(X, "X", 2, 3)
    if X.shape[0] != t.size or t.size < 2:
        raise ValueError(f"t and X must have the same number (>= 2) of samples, got {t.size} "
                         f"and {X.shape[0]}")
    if np.any(np.diff(t) <= 0):
        raise ValueError("t must be strictly increasing")
    return t, X


# ------------------------------------------------------------------------------ stiffness
def silent_phase(times: Any, spikes: Any, gap: float = 0.5) -> np.ndarray:
    """True at each of ``times`` (s) with no spike within ``gap`` s on either side: the
    silent phase between bursts, where the fast variables sit on the slow manifold."""
    times = _array(times, "times", 1)
    spikes = _array(spikes, "spikes", 1)
    gap = number(gap, "gap", low=0)
    if np.any(np.diff(spikes) < 0):
        raise ValueError("spikes must be sorted")
    if spikes.size == 0:
        return np.ones(times.shape, dtype=bool)
    i = np.searchsorted(spikes, times)
    prev = np.where(i > 0, spikes[np.maximum(i - 1, 0)], -np.inf)
    nxt = np.where(i < spikes.size, spikes[np.minimum(i, spikes.size - 1)], np.inf)
    return (times - prev > gap) & (nxt - times > gap)


@dataclass(frozen=True)
class OrbitStiffness:
    """The Jacobian's eigenvalues along an orbit. ``t`` (s) counts from the end of the
    dropped transient; ``lam`` is (N, 3) complex (1/s); ``ratio`` the stiffness ratio
    max|Re lambda| / min|Re lambda| per sample; ``silent`` marks the silent phase."""

    t: np.ndarray
    X: np.ndarray
    lam: np.ndarray
    ratio: np.ndarray
    silent: np.ndarray
    spikes: np.ndarray

    def _largest(self) -> tuple[int, complex]:
        # The sample where some eigenvalue has the largest modulus, and that eigenvalue.
        k = int(np.argmax(np.abs(self.lam).max(axis=1)))
        return k, self.lam[k][np.argmax(np.abs(self.lam[k]))]

    def summary(self) -> dict[str, float]:
        """Glued values: the fastest (most negative) real part in the silent phase
        (``lam_rest_min``/``_max``), the largest-modulus eigenvalue (``lam_big_abs``,
        ``lam_big_re``), the largest real part, and the ratio's median, 95th percentile and
        maximum."""
        fastest = np.sort(self.lam.real, axis=1)[self.silent, 0]
        _, big = self._largest()
        return {"lam_rest_min": float(fastest.min()), "lam_rest_max": float(fastest.max()),
                "lam_big_abs": float(abs(big)), "lam_big_re": float(big.real),
                "lam_re_max": float(self.lam.real.max()),
                "ratio_median": float(np.median(self.ratio)),
                "ratio_p95": float(np.percentile(self.ratio, 95)),
                "ratio_max": float(self.ratio.max())}

    def report(self) -> str:
        s = self.summary()
        k, big = self._largest()
        r = self.ratio
        return "\n".join([
            f"silent phase: fastest eigenvalue real, from {s['lam_rest_min']:.1f} to "
            f"{s['lam_rest_max']:.1f} 1/s",
            f"bursts: largest |λ| = {abs(big):.0f} 1/s, a complex pair {big.real:.1f} ± "
            f"{abs(big.imag):.0f}i 1/s at V = {self.X[k, 0]:.1f} mV",
            f"real parts along the orbit: from {self.lam.real.min():.1f} to "
            f"{self.lam.real.max():.1f} 1/s",
            f"stiffness ratio max|Re λ| / min|Re λ|: median {np.median(r):.3g}, 5-95 % range "
            f"{np.percentile(r, 5):.3g} to {np.percentile(r, 95):.3g}, max {r.max():.3g}"])


def orbit_stiffness(t: Any, X: Any, params: HHParams, *, t_skip: float = 0.0,
                    gap: float = 0.5) -> OrbitStiffness:
    """Eigenvalues of the analytic Jacobian at every sample of the trajectory ``(t, X)``
    with ``t >= t_skip`` (s; the transient before it is dropped), the stiffness ratio, the
    spikes and the silent phase (no spike within ``gap`` s)."""
    t, X = _time_series(t, X)
    params = _scalar_params(params)
    t_skip = number(t_skip, "t_skip")
    sel = t >= t_skip
    if sel.sum() < 2:
        raise ValueError(f"t_skip ({t_skip} s) leaves fewer than 2 samples of the trajectory")
    t_o, X_o = t[sel] - t_skip, X[sel]
    lam = np.linalg.eigvals(jacobian(X_o, params))
    abs_re = np.abs(lam.real)
    spikes = spike_times(t_o, X_o[:, 0])
    return OrbitStiffness(t_o, X_o, lam, abs_re.max(axis=1) / abs_re.min(axis=1),
                          silent_phase(t_o, spikes, gap), spikes)


@dataclass(frozen=True)
class ExplicitSteps:
    """Every step of SciPy's RK45 along an orbit: start times ``t`` and sizes ``h`` (s), the
    explicit stability bound ``h_stab`` (s) at each start, and which steps lie in the
    silent phase."""

    t: np.ndarray
    h: np.ndarray
    h_stab: np.ndarray
    silent: np.ndarray
    t_end: float

    @property
    def limited(self) -> np.ndarray:
        """Steps within a factor two of the stability bound."""
        return self.h > 0.5 * self.h_stab

    def summary(self) -> dict[str, float]:
        """Glued values: the number of steps, the percentage of stability-limited steps and
        of the time they cover, and median steps (ms) in the silent phase and the bursts."""
        h, lim, sil = self.h, self.limited, self.silent
        return {"rk45_steps": int(h.size), "rk45_stab_frac": float(100 * lim.mean()),
                "rk45_stab_time": float(100 * h[lim].sum() / self.t_end),
                "h_silent": float(_median(h[sil]) * 1e3),
                "h_silent_frac": float(100 * _median(h[sil] / self.h_stab[sil])),
                "h_burst": float(_median(h[~sil]) * 1e3),
                "h_bound_ms": float(_median(self.h_stab[sil]) * 1e3)}

    def report(self) -> str:
        s, lim = self.summary(), self.limited
        burst_frac = _median(self.h[~self.silent] / self.h_stab[~self.silent])
        return "\n".join([
            f"RK45, {self.t_end:g} s of the orbit: {self.h.size} steps "
            f"({self.silent.sum()} of them in the silent phase)",
            f"steps within a factor 2 of the stability bound: {lim.sum()} "
            f"({lim.mean():.0%} of the steps), covering "
            f"{self.h[lim].sum() / self.t_end:.0%} of the time",
            f"median step: silent phase {s['h_silent']:.1f} ms ({s['h_silent_frac']:.0f}% of "
            f"the bound), bursts {s['h_burst']:.2f} ms ({burst_frac:.1%} of the bound)"])


def explicit_steps(params: HHParams, x0: Any, t_end: float, spikes: Any, *,
                   rtol: float = 1e-6, atol: float = 1e-8, gap: float = 0.5) -> ExplicitSteps:
    """Integrate from ``x0`` over [0, t_end] s with SciPy's RK45 and compare each step with
    the stability bound ``DOPRI5_STABILITY / |lambda|`` of the damped, real-dominated
    eigenvalues (Re lambda < 0, |Im lambda| < |Re lambda|) at its start. ``spikes`` (s, on
    the same clock) define the silent phase."""
    params = _scalar_params(params)
    x0 = _array(x0, "x0", 1, 3)
    t_end = number(t_end, "t_end", low=0)
    spikes = _array(spikes, "spikes", 1)
    f, _ = scalar_field(params)
    # The eigenvalues of a spike (a complex pair) describe the solution's own oscillation,
    # not a mode the step must damp: only real-dominated, decaying ones bound the step.
    sol = solve_ivp(lambda _t, x: f(x), (0.0, t_end), x0, method="RK45", rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"RK45 failed: {sol.message}")
    lam = np.linalg.eigvals(jacobian(sol.y.T[:-1], params))
    damped = (lam.real < 0) & (np.abs(lam.imag) < np.abs(lam.real))
    h_stab = DOPRI5_STABILITY / np.where(damped, np.abs(lam), 1e-12).max(axis=1)
    return ExplicitSteps(sol.t[:-1], np.diff(sol.t), h_stab,
                         silent_phase(sol.t[:-1], spikes, gap), t_end)


# ------------------------------------------------------------------------- work-precision
@dataclass(frozen=True)
class Reference:
    """A tight reference trajectory (DOP853) on the grid ``t`` and ``convergence``, its
    largest |V| difference (mV) from the same solver one decade looser."""

    t: np.ndarray
    X: np.ndarray
    convergence: float
    t_end: float
    dt: float


def reference_solution(params: HHParams, x0: Any, t_end: float, dt: float, *,
                       rtol: float = 1e-13, atol: float = 1e-14) -> Reference:
    """DOP853 at ``rtol``/``atol``, checked against ``10 rtol``/``10 atol``."""
    t, R = simulate(params, x0, t_end, dt, method="DOP853", rtol=rtol, atol=atol)
    _, R_loose = simulate(params, x0, t_end, dt, method="DOP853", rtol=10 * rtol,
                          atol=10 * atol)
    return Reference(t, R, float(np.abs(R_loose[:, 0] - R[:, 0]).max()), float(t_end),
                     float(dt))


def cpu_best(fn: Callable[[], Any], repeats: int = 2, long: float = 1.0) -> tuple[Any, float]:
    """(result, best CPU time in s) over ``repeats`` calls of ``fn``; a call longer than
    ``long`` s is not repeated (its timing noise is small, and the chapter's run time
    matters). CPU time (``time.process_time``) sums over the process's threads."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    integer(repeats, "repeats")
    long = number(long, "long", low=0)
    best, out = np.inf, None
    for _ in range(int(repeats)):
        c0 = time.process_time()
        out = fn()
        best = min(best, time.process_time() - c0)
        if best > long:
            break
    return out, best


def run_solver(method: str, params: HHParams, x0: Any, t_end: float, dt: float,
               rtol: float) -> np.ndarray:
    """States (N, 3) on the grid 0, dt, ..., t_end s from one solver at ``rtol`` and
    ``atol = rtol / 100``; ``"ensemble"`` is ``simulate_ensemble`` with a batch of one."""
    one_of(method, "method", SOLVERS)
    atol = rtol * 1e-2
    if method == "ensemble":
        x0 = _array(x0, "x0", 1, 3)
        return simulate_ensemble(params, x0[None], t_end, dt, rtol=rtol, atol=atol)[1][0]
    return simulate(params, x0, t_end, dt, method=method, rtol=rtol, atol=atol)[1]


def listed(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = [str(i) for i in items]
    if not items:
        raise ValueError("listed needs at least one item")
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _display_name(m: str) -> str:
    return "`simulate_ensemble` with B = 1" if m == "ensemble" else m


@dataclass(frozen=True)
class WorkPrecision:
    """Work-precision runs: ``runs[method, rtol] = (CPU s per trajectory, max |dV| mV over
    the whole run, max |dV| mV over the first ``window`` s)``. ``methods`` are the
    single-trajectory runs; ``batch`` names the batched ensemble run, once added."""

    runs: dict
    methods: tuple
    rtols: tuple
    t_end: float
    window: float
    batch: str | None = None
    shown: dict = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return list(self.methods) + ([self.batch] if self.batch else [])

    def label(self, m: str) -> str:
        return self.shown.get(m, m)

    def _need(self, *methods: str, rtols: Sequence[float] = ()) -> None:
        missing = [(m, r) for m in methods for r in rtols if (m, r) not in self.runs]
        if missing:
            raise ValueError(f"these runs are needed and missing: {missing}")

    def table(self) -> tuple[list[str], list[tuple]]:
        """(headers, rows) for :func:`hhlib.plotting.markdown_table`."""
        headers = ["method", "rtol", "CPU time (s)", f"max |dV| over {self.t_end:g} s (mV)",
                   f"max |dV| over {self.window:g} s (mV)"]
        return headers, [(self.label(m), f"{r:.0e}", *self.runs[m, r])
                         for m in self.labels for r in self.rtols]

    def timing_ratios(self, rtol: float = 1e-6, target: float = 1e-2) -> dict[str, float]:
        """CPU-time ratios: at ``rtol`` (ensemble B=1 / RK45, B=1 / batch, LSODA / batch,
        RK45 / batch), at equal accuracy (the cheapest run of each method with error at most
        ``target`` mV: LSODA / batch, Radau / batch), and Radau / LSODA at rtol 1e-8."""
        self._need("RK45", "LSODA", "Radau", "ensemble", rtols=(rtol, 1e-8))
        if self.batch is None:
            raise ValueError("timing_ratios needs the batched run (with_batch)")
        cpu = {m: self.runs[m, rtol][0] for m in self.labels}
        cheap = self.cheapest(target)
        return {"wp_ratio_b1": float(cpu["ensemble"] / cpu["RK45"]),
                "wp_gain_b64": float(cpu["ensemble"] / cpu[self.batch]),
                "wp_vs_lsoda": float(cpu["LSODA"] / cpu[self.batch]),
                "wp_vs_rk45": float(cpu["RK45"] / cpu[self.batch]),
                "acc_vs_lsoda": float(cheap["LSODA"][0] / cheap[self.batch][0]),
                "acc_vs_radau": float(cheap["Radau"][0] / cheap[self.batch][0]),
                "radau_lsoda_cost": float(self.runs["Radau", 1e-8][0]
                                          / self.runs["LSODA", 1e-8][0])}

    def cheapest(self, target: float = 1e-2) -> dict[str, tuple[float, float]]:
        """Per method, (CPU s, rtol) of its cheapest run with max |dV| <= ``target`` mV."""
        target = number(target, "target", low=0)
        out = {}
        for m in self.labels:
            ok = [(self.runs[m, r][0], r) for r in self.rtols if self.runs[m, r][1] <= target]
            if not ok:
                raise ValueError(f"no run of {m} reaches an error of {target:g} mV")
            out[m] = min(ok)
        return out

    def errors(self) -> dict[str, Any]:
        """Glued errors (mV): every method's over the whole run (``wp_errors``), some over
        the run (``err_lsoda4``, ``err_rk45_6``, ``err_radau6``) and over the first
        ``window`` s (``err_lsoda8``, ``err_radau8``, ``err_ens6``), and ``b64_rel``: the
        largest relative difference between the batch member's error and the B=1 run's."""
        fixed = ("RK45", "ensemble", "LSODA", "BDF", "Radau")
        self._need(*fixed, rtols=(1e-4, 1e-6, 1e-8))
        run = self.runs
        out: dict[str, Any] = {}
        if self.batch is not None:
            out["b64_rel"] = float(max(abs(run[self.batch, r][1] / run["ensemble", r][1] - 1)
                                       for r in self.rtols))
        out["wp_errors"] = {f"{m} rtol {r:g}": round(float(run[m, r][1]), 12)
                            for m in fixed for r in self.rtols}
        out.update(err_lsoda4=float(run["LSODA", 1e-4][1]),
                   err_rk45_6=float(run["RK45", 1e-6][1]),
                   err_radau6=float(run["Radau", 1e-6][1]),
                   err_lsoda8=float(run["LSODA", 1e-8][2]),
                   err_radau8=float(run["Radau", 1e-8][2]),
                   err_ens6=float(run["ensemble", 1e-6][2]))
        return out

    def findings(self) -> dict[str, str]:
        """The comparisons the chapter's text makes, as sentences built from these runs:
        ``wp_accuracy`` (who is off by > 1 mV at rtol 1e-4, the accuracy ranking at 1e-6,
        the ensemble's error against RK45's: results, compared with the references),
        ``wp_costs`` (cheapest solver per tolerance, the dearest at 1e-6, the ensemble's CPU
        time against RK45's: timings of the build machine), ``lsoda8_cost_text``,
        ``radau8_text`` and ``ens6_vs_lsoda6``."""
        self._need(*self.methods, rtols=(1e-4, 1e-6))
        self._need("RK45", "LSODA", "BDF", "Radau", "ensemble", rtols=(1e-4, 1e-6, 1e-8))
        run, methods, name = self.runs, list(self.methods), _display_name
        cheapest_at = {r: min(methods, key=lambda m: run[m, r][0]) for r in self.rtols}
        winners = sorted(set(cheapest_at.values()))
        if len(winners) == 1:
            s_cost = (f"For one trajectory, {name(winners[0])} is the cheapest solver at "
                      "every tolerance.")
        else:
            s_cost = ("For one trajectory, the cheapest solver depends on the tolerance: "
                      + listed([f"{name(m)} at rtol {r:.0e}" for r, m in cheapest_at.items()])
                      + ".")
        off = [name(m) for m in methods if run[m, 1e-4][1] > 1.0]
        s_off = (f"At rtol 1e-4, {listed(off)} {'is' if len(off) == 1 else 'are'} off by more "
                 f"than a millivolt (spike times shift)." if off else
                 "At rtol 1e-4 every method stays within a millivolt.")
        by_err = sorted(methods, key=lambda m: run[m, 1e-6][1])
        s_acc = ("At rtol 1e-6, from most to least accurate: "
                 + listed([f"{name(m)} ({run[m, 1e-6][1]:.2g} mV)" for m in by_err])
                 + f"; the most accurate is {run[by_err[1], 1e-6][1] / run[by_err[0], 1e-6][1]:.2g}"
                 f" times as accurate as the next.")
        by_cost = sorted(methods, key=lambda m: -run[m, 1e-6][0])
        s_dear = (f"The most expensive per trajectory at rtol 1e-6 are {name(by_cost[0])} and "
                  f"{name(by_cost[1])} (the implicit BDF and Radau solve a nonlinear system in "
                  f"every step).")
        ens_rk = [run["ensemble", r][1] / run["RK45", r][1] for r in self.rtols]
        ratio_b1 = run["ensemble", 1e-6][0] / run["RK45", 1e-6][0]
        s_ens = (f"`simulate_ensemble` with a batch of one (the same Dormand–Prince pair as "
                 f"RK45, with its own step control) has {min(ens_rk):.2g} to {max(ens_rk):.2g} "
                 f"times RK45's error at the same rtol.")
        s_ens_cost = (f"With a batch of one, `simulate_ensemble` takes {ratio_b1:.2g} times "
                      "RK45's CPU time at rtol 1e-6.")
        cost8 = {m: run[m, 1e-8][0] for m in ("RK45", "LSODA", "BDF", "Radau")}
        cheap8 = min(cost8, key=cost8.get)
        e8 = {m: run[m, 1e-8][2] for m in cost8}
        return {"wp_accuracy": " ".join([s_off, s_acc, s_ens]),
                "wp_costs": " ".join([s_cost, s_dear, s_ens_cost]),
                "lsoda8_cost_text":
                    "at the lowest CPU cost of the single-trajectory solvers at that tolerance"
                    if cheap8 == "LSODA" else
                    f"although {cheap8} was cheaper at that tolerance in this run "
                    f"({cost8[cheap8] / cost8['LSODA']:.2g} times LSODA's CPU time)",
                "radau8_text": "more accurate" if e8["Radau"] < e8["LSODA"] else "less accurate",
                "ens6_vs_lsoda6": "smaller" if run["ensemble", 1e-6][2] < run["LSODA", 1e-6][2]
                else "larger"}

    def report(self) -> str:
        """The largest voltage error of each method at rtol 1e-4, 1e-6 and 1e-8."""
        return "\n".join(f"{m:>8}: max |V error| at rtol 1e-4 / 1e-6 / 1e-8: "
                         + " / ".join(f"{self.runs[m, r][1]:.2g}" for r in (1e-4, 1e-6, 1e-8))
                         + " mV" for m in ("RK45", "ensemble", "LSODA", "BDF", "Radau"))

    def cost_report(self) -> str:
        """CPU times at rtol 1e-6 and the cheapest runs at 0.01 mV (timings of this machine)."""
        t = self.timing_ratios()
        cheap = self.cheapest()
        lines = ["CPU time per trajectory at rtol 1e-6: " + ", ".join(
                     f"{self.label(m)} {self.runs[m, 1e-6][0] * 1e3:.1f} ms" for m in self.labels),
                 f"ensemble B=1 / RK45: {t['wp_ratio_b1']:.2g}; B=1 / batch per trajectory: "
                 f"{t['wp_gain_b64']:.2g}; LSODA / batch: {t['wp_vs_lsoda']:.1f}; RK45 / batch: "
                 f"{t['wp_vs_rk45']:.1f}",
                 "cheapest run with max |V error| <= 0.01 mV: " + ", ".join(
                     f"{self.label(m)} {c * 1e3:.1f} ms at rtol {r:.0e}"
                     for m, (c, r) in cheap.items())]
        return "\n".join(lines)

    def with_batch(self, params: HHParams, x0: Any, reference: Reference) -> "WorkPrecision":
        """These runs plus ``simulate_ensemble`` on a batch: ``params`` with one V_S per
        trajectory, the first being the reference's; CPU time divided by the batch size,
        error that of the first member."""
        params = check_params(params)
        vs = np.atleast_1d(params.V_S)
        B = vs.size
        x0 = _array(x0, "x0", 1, 3)
        w = reference.t <= self.window + 1e-9
        runs, label = dict(self.runs), f"ensemble, B={B}"
        for r in self.rtols:
            (_, E), cpu = cpu_best(lambda: simulate_ensemble(
                params, np.tile(x0, (B, 1)), reference.t_end, reference.dt, rtol=r,
                atol=r * 1e-2))
            err = np.abs(E[0, :, 0] - reference.X[:, 0])
            runs[label, r] = (cpu / B, err.max(), err[w].max())
        shown = {"ensemble": "simulate_ensemble, B=1", label: f"simulate_ensemble, B={B}"}
        return WorkPrecision(runs, self.methods, self.rtols, self.t_end, self.window, label,
                             shown)


def work_precision(params: HHParams, x0: Any, methods: Sequence[str],
                   rtols: Sequence[float], reference: Reference, *,
                   window: float = 10.0) -> WorkPrecision:
    """Run each of ``methods`` at each of ``rtols`` (``atol = rtol / 100``) over the
    reference's time span, timing the best of two runs (:func:`cpu_best`), and measure
    max |V - V_ref| (mV) over the whole run and over its first ``window`` s."""
    params = _scalar_params(params)
    instance(reference, Reference, "reference")
    methods, rtols = tuple(methods), tuple(float(r) for r in rtols)
    bad = [m for m in methods if m not in SOLVERS]
    if bad or not methods:
        raise ValueError(f"methods must be a non-empty selection of {SOLVERS}, got {methods}")
    if not rtols or not all(0 < r < 1 for r in rtols):
        raise ValueError(f"rtols must be a non-empty list of numbers in (0, 1), got {rtols}")
    window = number(window, "window", low=0)
    t_end, dt = reference.t_end, reference.dt
    w = reference.t <= window + 1e-9
    runs = {}
    for m in methods:
        for r in rtols:
            Xm, cpu = cpu_best(lambda: run_solver(m, params, x0, t_end, dt, r))
            err = np.abs(Xm[:, 0] - reference.X[:, 0])
            runs[m, r] = (cpu, err.max(), err[w].max())
    return WorkPrecision(runs, methods, rtols, t_end, window)


# -------------------------------------------------------------------------- ensemble speed
@dataclass(frozen=True)
class EnsembleSpeedup:
    """Wall times (s) of ``simulate_ensemble`` on B trajectories and of an LSODA loop over
    the first ``n_loop`` of them, with the loop extrapolated to B."""

    B: int
    n_loop: int
    t_end: float
    wall_ens: float
    wall_loop: float

    def summary(self) -> dict[str, float]:
        """Glued values: the speed-up, per-trajectory times (ms) and the run's sizes."""
        per_lsoda, per_ens = self.wall_loop / self.n_loop, self.wall_ens / self.B
        return {"speedup_chapter": float(per_lsoda / per_ens), "B_big": self.B,
                "n_loop": self.n_loop, "t_big": float(self.t_end),
                "per_lsoda": float(per_lsoda * 1e3), "per_ens": float(per_ens * 1e3)}

    def report(self) -> str:
        s = self.summary()
        return "\n".join([
            f"simulate_ensemble, B = {self.B}, {self.t_end:g} s each: wall time "
            f"{self.wall_ens:.2f} s ({s['per_ens']:.1f} ms per trajectory)",
            f"LSODA loop over {self.n_loop} of them: wall time {self.wall_loop:.2f} s "
            f"({s['per_lsoda']:.1f} ms per trajectory); extrapolated to B = {self.B}: "
            f"{s['per_lsoda'] * 1e-3 * self.B:.1f} s",
            f"speed-up (extrapolated loop / ensemble): {s['speedup_chapter']:.1f}x"])


def ensemble_speedup(params: HHParams, V_S: Any, x0: Any, t_end: float, dt: float, *,
                     n_loop: int, rtol: float = 1e-6, atol: float = 1e-8) -> EnsembleSpeedup:
    """Time ``simulate_ensemble`` (its defaults ``rtol``/``atol``) on one trajectory per
    value of ``V_S`` (mV) from ``x0``, then LSODA (``simulate``) at the same tolerances on
    the first ``n_loop`` of them, one by one."""
    params = _scalar_params(params)
    V_S = _array(V_S, "V_S", 1)
    x0 = _array(x0, "x0", 1, 3)
    integer(n_loop, "n_loop", 1, V_S.size)
    t0 = time.perf_counter()
    simulate_ensemble(params.replace(V_S=V_S), np.tile(x0, (V_S.size, 1)), t_end, dt,
                      rtol=rtol, atol=atol)
    wall_ens = time.perf_counter() - t0
    t0 = time.perf_counter()
    for v in V_S[:n_loop]:
        simulate(params.replace(V_S=float(v)), x0, t_end, dt, rtol=rtol, atol=atol)
    wall_loop = time.perf_counter() - t0
    return EnsembleSpeedup(int(V_S.size), int(n_loop), float(t_end), wall_ens, wall_loop)
