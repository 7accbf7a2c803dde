"""The ODE: the model, its integration, the spikes and bursts of its voltage, sweeps over V_S,
and the training data cut from its trajectories. Imports only the modules beside it and
hhlib's base modules (checks, kernels).

- ``model``: parameters (``HHParams``), vector field, Jacobian, fixed points, Hopf point.
- ``integrate``: one trajectory with SciPy (``simulate``), many with a compiled solver
  (``simulate_ensemble``).
- ``spikes``: spikes, bursts and regimes of voltage traces.
- ``sweeps``: many independent simulations on any ``concurrent.futures`` executor.
- ``data``: the datasets of trajectory cuts the maps are trained on.
- ``survey``, ``accuracy``, ``dataset_stats``: the model across V_S, the solvers' work and
  precision, and what a dataset holds (chapters 1, 2 and 3).
"""
