"""Shared fixtures: tiny generated data and a helper to run train.py in a subprocess."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

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

# Options that make a model small and quick where it has them: a diffusion model's U-Net and sampling steps, an
# SNGAN's width.
TINY_OPTIONS = {"widths": (8,), "blocks": 1, "steps": 2, "width": 8}


# The sampling arguments a diffusion model's sample and exported generate take beside its noise (and labels): its
# steps and, conditional, its guidance weight.
SAMPLING = {"steps": np.int32(3), "guidance": np.float32(0.5)}


def sampling_args(model) -> dict:
    """The :data:`SAMPLING` arguments ``model.sample`` takes (none for a model that samples in one pass)."""
    import inspect

    return {key: value for key, value in SAMPLING.items() if key in inspect.signature(model.sample).parameters}


def tiny_options(name: str) -> dict:
    """The :data:`TINY_OPTIONS` model ``name`` has."""
    from tfgen import options, registry

    return {key: value for key, value in TINY_OPTIONS.items() if key in options.of(registry.get(name))}


def build_model(name: str, latent_dim: int = 8, seed: int = 1, **options):
    """A compiled ``name`` model with a small latent (small networks where it has the options) and learning rate
    1e-3."""
    from tfgen import registry

    model = registry.get(name)(latent_dim=latent_dim, learning_rate=1e-3, seed=seed,
                               **{**tiny_options(name), **options})
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


def sample_args(model, n=5):
    """``sample``'s arguments for ``n`` images: codes, and labels for a conditional model."""
    import tensorflow as tf

    z = tf.random.normal((n, *model.noise_shape), seed=3)
    return (z, tf.range(n) % 10) if model.has("conditional") else (z,)


# ----- helpers of the training tests -----

TINY = ["--batch-size", "64", "--latent-dim", "4", "--seed", "3"]


def read_rows(run_dir):
    with open(run_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def assert_complete_run(run_dir, epochs):
    """Every epoch exactly once in metrics.csv and images/, a full GIF, and the final outputs."""
    rows = read_rows(run_dir)
    assert [int(r["epoch"]) for r in rows] == list(range(1, epochs + 1))
    pngs = sorted(p.name for p in (run_dir / "images").iterdir())
    assert pngs == [f"epoch_{e:04d}.png" for e in range(epochs + 1)]
    from tfgen import images

    frames = iio.imread(run_dir / "progress.gif", index=None)
    assert len(frames) == len(images.gif_frame_indices(epochs + 1))
    assert (run_dir / "loss.png").stat().st_size > 0
    assert (run_dir / "saved_model" / "saved_model.pb").is_file()
    assert not list(run_dir.rglob(".*.tmp*"))
    return rows


# ----- helpers of the own-images tests: small class folders of distinct colour pictures -----

COLOURS = ((255, 0, 0), (0, 255, 0), (0, 0, 255))


def picture(label: int, size=(8, 8), index: int = 0) -> np.ndarray:
    """A class's colour with a brighter square whose place depends on ``index`` (distinct images)."""
    h, w = size
    x = np.zeros((h, w, 3), np.uint8) + np.asarray(COLOURS[label % 3], np.uint8) // 2
    x[index % (h - 2): index % (h - 2) + 2, :2] = 250
    return x


def write(path: Path, array: np.ndarray, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format=fmt)
    return path


def class_folders(root: Path, per_class: int = 10, size=(8, 8), split: str | None = None, ext: str = "png") -> Path:
    for label, name in enumerate(("cat", "dog", "fox")):
        for i in range(per_class):
            write(root / (split or "") / name / f"{i:03d}.{ext}", picture(label, size, i))
    return root
