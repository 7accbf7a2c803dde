"""Learned maps x_{k+1} = F(x_k, V_S) and their training. Imports the ODE layer (for data and
the physical box), never the dynamics layer above it.

- ``network``: the network map (``MapNet``), the neural vector field as a map, the shipped
  weights (``load_pretrained``) and their checksums.
- ``scores``: how far free runs are from reference trajectories (``dynamics_score``), the
  criterion training selects its epoch by.
- ``training``: training on trajectory cuts (``train``, ``TrainConfig``).
"""
