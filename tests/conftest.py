"""Shared fixtures: tiny generated data and a helper to run train.py in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # tests are CPU-only and must not depend on a GPU

REPO = Path(__file__).resolve().parents[1]


def make_arrays(num_train: int = 256, num_test: int = 64, seed: int = 0) -> dict[str, np.ndarray]:
    """MNIST-layout arrays: a bright square whose position depends on the label, plus noise."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", num_train), ("test", num_test)):
        labels = rng.integers(0, 10, size=n)
        x = rng.integers(0, 60, size=(n, 28, 28)).astype(np.uint8)
        for i, y in enumerate(labels):
            r, c = divmod(int(y), 5)
            x[i, 4 + 10 * r : 12 + 10 * r, 2 + 5 * c : 8 + 5 * c] = 255
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x, labels.astype(np.uint8)
    return arrays


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """A folder with a tiny, valid mnist.npz (256 train / 64 test images)."""
    folder = tmp_path_factory.mktemp("data")
    np.savez(folder / "mnist.npz", **make_arrays())
    return folder


TRAIN_PY = [sys.executable, str(REPO / "train.py")]


def train_env(**extra: str) -> dict[str, str]:
    """The environment of a ``train.py`` subprocess: quiet TensorFlow, CPU only, plus ``extra``."""
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "", **extra}


def run_train(*args: str, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """Runs ``python train.py ARGS`` from the repository root; never waits past ``timeout``."""
    return subprocess.run([*TRAIN_PY, *args], cwd=REPO, env=train_env(), capture_output=True, text=True,
                          timeout=timeout, **kwargs)


def make_run(out: Path, model: str, **settings) -> Path:
    """A run directory as training leaves it after epoch 1, made without training (fast): config.json and a
    checkpoint of the freshly built model, for the tests of what reads a run back."""
    from tfgen import config, rundir, training
    from tfgen.data.prepare import prepare

    cfg, ds = prepare(config.resolve(model, {"epochs": 1, "out": str(out), **settings}))
    run = rundir.RunDir(cfg.run_dir)
    rundir.create(run.path)
    rundir.write_config(run.path, training.config_doc(cfg, ds))
    built = cfg.make_model()
    built.compile()
    rundir.Checkpoints(run.checkpoints, built, built.named_optimizers()).save(1)
    return cfg.run_dir


# ----- helpers of the model tests (tests/test_models.py and tests/models/) -----

def build_model(name: str, latent_dim: int = 8, seed: int = 1, **options):
    """A compiled ``name`` model with a small latent and learning rate 1e-3."""
    from tfgen import registry

    model = registry.get(name)(latent_dim=latent_dim, learning_rate=1e-3, seed=seed, **options)
    model.compile()
    return model


def model_batch(model, n: int = 8):
    """One training batch ``(x, labels)`` of ``n`` examples in the model's input range."""
    import tensorflow as tf

    from tfgen import data

    if model.has("points"):
        ds = data.make_points("ring", seed=0, num_train=n, num_test=1)
        return tf.constant(ds.x_train), tf.constant(ds.y_train.astype(np.int32))
    arrays = make_arrays(num_train=n, num_test=1)
    return (tf.constant(data.to_float(arrays["x_train"][..., None], model.input_range)),
            tf.constant(arrays["y_train"].astype(np.int32)))


def body(net, activation: str = "linear") -> list:
    """The network's layers before its output layer, checked to be tfgen.precision.float32_output(activation)."""
    *layers, out = net.layers
    assert type(out).__name__ == "Activation" and out.dtype_policy.name == "float32"
    assert out.activation.__name__ == activation
    return layers
