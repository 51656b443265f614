"""The 2-D toy sets of the toy GAN, drawn from a seed."""

from __future__ import annotations

import numpy as np

from tfgen.data.dataset import DataError, Dataset

POINT_DATASETS = ("ring", "moons", "spiral", "grid")

POINTS_TRAIN, POINTS_TEST = 10_000, 2_000


def make_points(name: str, seed: int, num_train: int = POINTS_TRAIN, num_test: int = POINTS_TEST) -> Dataset:
    """A 2-D toy set for the GAN, drawn reproducibly from ``seed``.

    - ``ring``: 8 Gaussians (std 0.05) evenly on a circle of radius 2;
    - ``grid``: 25 Gaussians (std 0.05) on the grid {-4, -2, 0, 2, 4}^2;
    - ``moons``: two interleaved half circles, noise 0.05;
    - ``spiral``: two interleaved spiral arms, noise 0.05.
    Labels are the mode, moon or arm a point was drawn from.
    """
    rng = np.random.default_rng([seed, POINT_DATASETS.index(name)])
    n = num_train + num_test
    modes, std = None, None
    if name in ("ring", "grid"):
        if name == "ring":
            angles = 2 * np.pi * np.arange(8) / 8
            modes, std = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1), 0.05
        else:
            axis = np.arange(-4.0, 5.0, 2.0)
            modes, std = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2), 0.05
        labels = rng.integers(0, len(modes), n)
        points = modes[labels] + std * rng.standard_normal((n, 2))
    elif name == "moons":
        labels = rng.integers(0, 2, n)
        t = np.pi * rng.random(n)
        points = np.where(labels[:, None] == 0, np.stack([np.cos(t), np.sin(t)], 1),
                          np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], 1))
        points = points + 0.05 * rng.standard_normal((n, 2))
    elif name == "spiral":
        labels = rng.integers(0, 2, n)
        t = np.sqrt(rng.random(n))  # uniform along the arm's length
        angle = 3 * np.pi * t + np.pi * labels
        points = 2.0 * t[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1) + 0.05 * rng.standard_normal((n, 2))
    else:
        raise DataError(f"unknown point set {name!r}; choose one of: {', '.join(POINT_DATASETS)}")
    points, labels = points.astype(np.float32), labels.astype(np.int64)
    return Dataset(name, points[:num_train], labels[:num_train], points[num_train:], labels[num_train:],
                   f"generated from seed {seed}", modes=None if modes is None else modes.astype(np.float32),
                   mode_std=std)
