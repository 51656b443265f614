"""The latent-space tools, as pure functions of arrays: batching, interpolation, nearest neighbours and
precision@K, the grid of the prior's quantiles. ``tfgen.Run`` applies them to a run's model and data;
``tfgen explore`` draws what they return.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Callable

import numpy as np

from tfgen.errors import ConfigError

BATCH = 1000  # examples per call into a model: bounds the memory of one call on any data set


def in_batches(fn: Callable, *arrays, batch_size: int = BATCH) -> np.ndarray:
    """``fn(*batch)`` over the arrays' examples ``batch_size`` at a time, as one array (arrays that are None are
    left out of the call)."""
    given = [a for a in arrays if a is not None]
    n = len(given[0])
    return np.concatenate([np.asarray(fn(*(a[i:i + batch_size] for a in given))) for i in range(0, n, batch_size)])


def each_class(n: int, num_classes: int) -> np.ndarray:
    """``n`` labels naming each of ``num_classes`` classes in turn (int32): a conditional model's default draw."""
    return (np.arange(n) % num_classes).astype(np.int32)


def interpolation(a: np.ndarray, b: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """``steps`` evenly spaced points from ``a`` to ``b`` (both ends included), and their weights t (steps, 1)."""
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    return (1 - t) * a + t * b, t


def neighbours(codes: np.ndarray, k: int, block: int = 500) -> np.ndarray:
    """Each code's ``k`` nearest other codes by Euclidean distance, nearest first: indices (N, k).

    Distances are computed ``block`` rows at a time, so memory stays at ``block`` x N.
    """
    if not 0 < k < len(codes):
        raise ConfigError(f"--k {k} must be between 1 and {len(codes) - 1}")
    codes = np.asarray(codes, dtype=np.float64)
    sq = np.sum(codes**2, axis=1)
    found = np.empty((len(codes), k), dtype=np.int64)
    for start in range(0, len(codes), block):
        d = sq[start:start + block, None] + sq[None, :] - 2.0 * codes[start:start + block] @ codes.T
        d[np.arange(len(d)), np.arange(start, start + len(d))] = np.inf  # not itself
        part = np.argpartition(d, k, axis=1)[:, :k]
        order = np.take_along_axis(d, part, axis=1).argsort(axis=1)
        found[start:start + block] = np.take_along_axis(part, order, axis=1)
    return found


def precision_at_k(found: np.ndarray, labels: np.ndarray) -> float:
    """The share of neighbours (:func:`neighbours`) that have their query's label."""
    labels = np.asarray(labels)
    return float(np.mean(labels[found] == labels[:, None]))


def prior_grid(n: int, low: float = 0.05, high: float = 0.95) -> np.ndarray:
    """An n x n grid of 2-D codes at the standard normal's quantiles from ``low`` to ``high``, (n * n, 2).

    Row r, column c holds (q[c], q[n - 1 - r]): z1 grows to the right, z2 upwards.
    """
    q = np.array([NormalDist().inv_cdf(p) for p in np.linspace(low, high, n)], dtype=np.float32)
    return np.stack(np.meshgrid(q, q[::-1]), axis=-1).reshape(-1, 2)


def shared_codes(models: list, n: int, seed: int) -> list[np.ndarray]:
    """``n`` draws of each model's noise (``draw_noise``) from ``seed``: models whose noise has the first one's shape
    share the first draw, so they are compared on the same codes."""
    rng = np.random.default_rng(seed)
    first = models[0].draw_noise(n, rng)
    return [first if m.noise_shape == models[0].noise_shape else m.draw_noise(n, rng) for m in models]


def trajectory_steps(points: int, steps: int) -> list[int]:
    """The steps (counted from 1) after which a sampling run of ``steps`` steps keeps its ``points`` (at most
    ``steps``) predictions of the clean image: the last step of each of ``points`` equal shares, the first step at
    which step * points reaches (k + 1) * steps, as ``DiffusionModel.ddim`` keeps them."""
    return [-(-(k + 1) * steps // points) for k in range(points)]


def first_of_class(labels: np.ndarray, label: int) -> int:
    """The index of the first example of class ``label``."""
    hits = np.flatnonzero(np.asarray(labels) == label)
    if not len(hits):
        raise ConfigError(f"the test set has no image of class {label}")
    return int(hits[0])


def check_class(label: int, num_classes: int, flag: str) -> int:
    """``label`` when it is a class 0..num_classes-1, else ConfigError naming ``flag`` and the classes."""
    if not num_classes:
        raise ConfigError(f"{flag} names a class, but the run's data has no labels")
    if not 0 <= label < num_classes:
        raise ConfigError(f"{flag} {label} is not a class; the run's data has classes 0..{num_classes - 1}")
    return int(label)
