"""Fingerprints of the datasets the shipped networks were trained on.

A bitwise hash of simulated data is not portable: NumPy and numba pick different SIMD
kernels (exp, log, ...) on different CPUs, so the last bits differ from machine to machine.
What must hold is that the current code rebuilds the same data to within the integrator's
accuracy. The fingerprint keeps, for every trajectory of every split, its V_S and the mean,
spread, minimum and maximum of V, n and S over the kept window, and its number of spikes;
``references/datasets.json`` holds the fingerprint of each shipped network's dataset, and
``tests/test_datasets_reproduced.py`` rebuilds the data and compares.

Regenerate (after a deliberate change of the data; the networks must then be retrained):

    .venv/bin/python tests/dataset_fingerprint.py
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
FINGERPRINTS = REPO / "references" / "datasets.json"
NETWORKS = ("original", "bistable")
STATS = ("mean", "std", "min", "max")


def dataset_for(name: str):
    """The dataset the shipped network ``name`` records in its JSON, built or cached."""
    from hhlib.data import DatasetConfig, load_or_make_dataset
    from hhlib.network import load_pretrained

    _, rec = load_pretrained(name)
    cfg = DatasetConfig(**{**rec["dataset_config"],
                           "V_S_range": tuple(rec["dataset_config"]["V_S_range"])})
    return load_or_make_dataset(cfg, progress=False), rec


def fingerprint(ds) -> dict:
    from hhlib.spikes import spike_detection, spike_times

    kw = spike_detection(ds.config.variant)
    t = np.arange(ds.trajectories["train"].shape[1]) * ds.config.dt
    out = {}
    for split in ("train", "val", "test"):
        X = ds.trajectories[split]
        out[split] = {
            "V_S": ds.V_S[split].tolist(),
            "mean": X.mean(axis=1).tolist(), "std": X.std(axis=1).tolist(),
            "min": X.min(axis=1).tolist(), "max": X.max(axis=1).tolist(),
            "spikes": [int(spike_times(t, x[:, 0], **kw).size) for x in X],
            "n_cuts": int(ds.cuts[split].shape[0]),
        }
    return out


def main() -> int:
    doc = {"about": "tests/dataset_fingerprint.py", "networks": {}}
    for name in NETWORKS:
        ds, rec = dataset_for(name)
        doc["networks"][name] = {"dataset_sha256_when_trained": rec["dataset_sha256"],
                                 "fingerprint": fingerprint(ds)}
        print(f"{name}: fingerprinted {sum(len(v['V_S']) for v in doc['networks'][name]['fingerprint'].values())} trajectories")
    fd, tmp = tempfile.mkstemp(dir=FINGERPRINTS.parent, prefix=".datasets.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=None, separators=(",", ":"))
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, FINGERPRINTS)
    print(f"wrote {FINGERPRINTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
