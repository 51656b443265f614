import numpy as np

from tfgen.metrics import mode_coverage

MODES = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])


def test_samples_on_every_mode_cover_all_of_them():
    samples = np.repeat(MODES, 100, axis=0) + 0.01 * np.random.default_rng(0).standard_normal((400, 2))
    assert mode_coverage(samples, MODES, std=0.05) == {"modes_covered": 4.0, "high_quality": 1.0}


def test_a_collapsed_generator_covers_one_mode():
    samples = np.zeros((1000, 2))
    assert mode_coverage(samples, MODES, std=0.05) == {"modes_covered": 1.0, "high_quality": 1.0}


def test_far_samples_are_not_high_quality_and_a_mode_needs_one_percent():
    samples = np.concatenate([np.full((995, 2), 5.0), np.repeat(MODES[:1], 5, axis=0), MODES[1:2]])
    result = mode_coverage(samples, MODES, std=0.05)
    assert result["modes_covered"] == 0.0  # 5 and 1 of 1001 samples are under 1%
    assert result["high_quality"] == np.float64(6 / 1001)
