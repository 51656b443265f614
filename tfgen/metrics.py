"""Sample-quality metrics computed outside the training step."""

from __future__ import annotations

import numpy as np


def mode_coverage(samples: np.ndarray, modes: np.ndarray, std: float, min_share: float = 0.01) -> dict[str, float]:
    """Modes covered and high-quality share of 2-D samples from a Gaussian-mixture target.

    A sample is high quality when it lies within 3 standard deviations of some
    mode; a mode is covered when at least ``min_share`` of all samples lie
    within 3 standard deviations of it.

    Returns:
        ``modes_covered`` (a count, out of ``len(modes)``) and ``high_quality``
        (a share in [0, 1]).
    """
    distances = np.linalg.norm(samples[:, None, :] - modes[None, :, :], axis=-1)  # (N, M)
    near = distances <= 3.0 * std
    covered = int(np.sum(near.sum(axis=0) >= min_share * len(samples)))
    return {"modes_covered": float(covered), "high_quality": float(np.mean(near.any(axis=1)))}
