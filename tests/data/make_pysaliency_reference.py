"""Regenerate ``pysaliency_reference.npz``: inputs and metric values computed by pysaliency.

The values in the .npz were computed by pysaliency 0.2.22 (the field's reference implementation),
not by sstsal, and ``tests/test_metrics.py`` compares our planar metrics against them. We store
them instead of depending on pysaliency at test time: its package ``__init__`` needs
``pkg_resources`` (gone from current setuptools) and its ROC code calls ``np.trapz`` (gone from
NumPy 2), so this script loads only its two metric modules and restores ``np.trapz``.

Run in any environment with ``pip install pysaliency==0.2.22`` (no torch needed)::

    python tests/data/make_pysaliency_reference.py
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

if not hasattr(np, "trapz"):
    np.trapz = np.trapezoid  # pysaliency 0.2.22 predates NumPy 2


def _load(module: str):
    folder = Path(importlib.util.find_spec("pysaliency").submodule_search_locations[0])
    spec = importlib.util.spec_from_file_location(f"pysaliency_{module}", folder / f"{module}.py")
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def _smooth_map(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    noise = rng.random((height // 4, width // 4))
    return np.kron(noise, np.ones((4, 4))) + 0.05 * rng.random((height, width))


def main() -> None:
    metrics = _load("metrics")
    roc = _load("numba_utils")
    rng = np.random.default_rng(20221)
    height, width, n_cases = 24, 48, 4
    out: dict[str, np.ndarray] = {}
    for case in range(n_cases):
        pred = _smooth_map(rng, height, width)
        gt = _smooth_map(rng, height, width) ** 3
        if case == 3:
            # Quantised so that each 0.1-wide threshold bin holds one value: the Borji curve with
            # thresholds every 0.1 then equals the exact ROC that pysaliency computes.
            levels = np.array([0.0, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95, 1.0])
            pred = levels[rng.integers(0, len(levels), (height, width))]
            pred[0, 0], pred[0, 1] = 0.0, 1.0
        n_fix = 17
        fix = np.stack([rng.integers(0, height, n_fix), rng.integers(0, width, n_fix)], axis=1)
        fix[-1] = fix[0]  # a repeated fixation: counted twice by NSS and the AUCs
        ys, xs = fix[:, 0], fix[:, 1]
        positives = pred[ys, xs].astype(float)
        unfixated = np.ones(pred.shape, dtype=bool)
        unfixated[ys, xs] = False
        normalised = (pred - pred.min()) / (pred.max() - pred.min())
        out[f"pred_{case}"] = pred
        out[f"gt_{case}"] = gt
        out[f"fixations_{case}"] = fix
        out[f"cc_{case}"] = np.float64(metrics.CC(pred, gt))
        out[f"sim_{case}"] = np.float64(metrics.SIM(pred, gt))
        out[f"kld_{case}"] = np.float64(metrics.MIT_KLDiv(pred, gt))
        out[f"nss_{case}"] = np.float64(np.mean(metrics.NSS(pred, xs, ys)))
        # pysaliency's AUC_Judd(jitter=False): nonfixations='unfixated', thresholds='fixations'.
        out[f"auc_judd_{case}"] = np.float64(roc.general_roc_numba(positives, pred[unfixated].astype(float), judd=1)[0])
        # pysaliency's AUC with nonfixations='uniform' (all pixels), exact ROC.
        out[f"auc_uniform_{case}"] = np.float64(
            roc.general_roc_numba(normalised[ys, xs].astype(float), normalised.ravel().astype(float), judd=0)[0]
        )
    target = Path(__file__).with_name("pysaliency_reference.npz")
    np.savez_compressed(target, **out)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
