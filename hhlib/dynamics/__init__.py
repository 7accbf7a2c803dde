"""Dynamics of the ODE and of a learned map side by side: attractors, fixed points and their
eigenvalues, continuation, transitions, free runs against the ODE, and the other discovery
methods measured the same way. The top layer: imports the ODE and the maps, nothing imports it.

- ``attractors``: runners for the ODE and a map alike, continuation of bursting, basins.
- ``recovery``: a map's fixed points, multipliers, Hopf point and transition against the ODE's.
- ``bistability``: the bistable variant's rest state coexisting with bursting.
- ``evaluation``: free runs of a map against the ODE, and long runs from random states.
- ``ablation``: variants of the training recipe under one evaluation and one selection rule.
- ``baselines``: SINDy and the neural vector field, evaluated as the network is.
"""
