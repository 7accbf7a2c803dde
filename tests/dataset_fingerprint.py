"""Fingerprints of the datasets the shipped networks were trained on.

A bitwise hash of simulated data is not portable: NumPy and numba pick different SIMD
kernels (exp, log, ...) on different CPUs, so the last bits differ from machine to machine.
What must hold is that the current code rebuilds the same data to within the integrator's
accuracy. The fingerprint keeps, for every trajectory of every split, its V_S and the mean,
spread, minimum and maximum of V, n and S over the kept window, and its number of spikes;
``references/datasets.json`` holds the fingerprint of each shipped network's dataset, and
``tests/test_datasets_reproduced.py`` rebuilds the data and compares.

Every distinct dataset behind the shipped models is fingerprinted (models that share a
dataset configuration share one entry), the augmented cuts (transients, noise) included.

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
STATS = ("mean", "std", "min", "max")


def shipped_datasets() -> dict[str, list[str]]:
    """Every distinct training dataset of the shipped models: the shortest name among the
    models trained on it -> all of them."""
    from dataclasses import asdict

    from hhlib.maps.network import WEIGHTS_DIR

    groups: dict[str, list[str]] = {}
    for path in sorted(WEIGHTS_DIR.glob("*.json")):
        rec = json.loads(path.read_text(encoding="utf-8"))
        if "dataset_config" in rec:        # the same configuration once its defaults are in
            key = json.dumps(asdict(_config(rec)), sort_keys=True, default=str)
            groups.setdefault(key, []).append(path.stem)
    return {min(names, key=lambda n: (len(n), n)): names for names in groups.values()}


def dataset_for(name: str):
    """The dataset the shipped network ``name`` records in its JSON, built or cached."""
    from hhlib.ode.data import load_or_make_dataset
    from hhlib.maps.network import load_pretrained

    _, rec = load_pretrained(name)
    return load_or_make_dataset(_config(rec), progress=False), rec


def _config(rec: dict):
    from hhlib.ode.data import DatasetConfig

    cfg = dict(rec["dataset_config"])
    cfg["V_S_range"] = tuple(cfg["V_S_range"])
    if cfg.get("transient_box") is not None:
        cfg["transient_box"] = tuple(tuple(b) for b in cfg["transient_box"])
    return DatasetConfig(**cfg)


NETWORKS = tuple(shipped_datasets())


def fingerprint(ds) -> dict:
    from hhlib.ode.spikes import spike_detection, spike_times

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
    # augmented data (transient cuts from random starts, noisy copies): their number, and
    # the statistics of each variable over all their cuts
    for kind in sorted(ds.extra_cuts):
        C = ds.extra_cuts[kind].reshape(-1, 3)
        out[f"extra:{kind}"] = {"n_cuts": int(ds.extra_cuts[kind].shape[0]),
                                "V_S_mean": float(ds.extra_V_S[kind].mean()),
                                **{s: getattr(C, s)(axis=0).tolist() for s in STATS}}
    return out


def main() -> int:
    doc = {"about": "tests/dataset_fingerprint.py", "networks": {}}
    for name in NETWORKS:
        ds, rec = dataset_for(name)
        doc["networks"][name] = {"dataset_sha256_when_trained": rec["dataset_sha256"],
                                 "models": shipped_datasets()[name],
                                 "fingerprint": fingerprint(ds)}
        fp = doc["networks"][name]["fingerprint"]
        print(f"{name}: fingerprinted {sum(len(fp[s]['V_S']) for s in ('train', 'val', 'test'))} "
              f"trajectories, extra data {sorted(k for k in fp if k.startswith('extra:'))}",
              flush=True)
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
