"""End-to-end runs of train.py on tiny data: every output, resume after a kill, NaN stop, overwrite."""

import json
import subprocess
import sys

import imageio.v3 as iio
import keras
import numpy as np
import pytest

import tfgen
from tfgen import config as config_lib
from tfgen import registry
from tfgen.errors import NonFiniteLossError
from tfgen.rundir import Checkpoints

from conftest import REPO, TINY, assert_complete_run, read_rows, run_train, tiny_options

pytestmark = pytest.mark.slow


def test_train_writes_every_output(tmp_path, data_dir):
    out = tmp_path / "run"
    result = run_train("cvae", "--epochs", "3", "--data-dir", str(data_dir), "--out", str(out), *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = assert_complete_run(out, 3)
    assert list(rows[0]) == ["epoch", "loss", "reconstruction", "kl", "elbo", "test_loss", "test_reconstruction",
                             "test_kl", "test_elbo", "seconds", "images_per_s"]
    for row in rows:
        assert all(np.isfinite(float(v)) for v in row.values())
        assert float(row["test_elbo"]) < 0 and float(row["images_per_s"]) > 0

    doc = json.loads((out / "config.json").read_text())
    assert doc["config"] == {"model": "cvae", "epochs": 3, "batch_size": 64, "latent_dim": 4, "lr": 1e-4,
                             "dataset": "mnist", "data_dir": str(data_dir), "train_size": None, "out": str(out),
                             "seed": 3, "jit_compile": False, "precision": "float32", "strategy": "auto",
                             "eval_every": None, "tensorboard": False,
                             "options": {"filters": 32, "likelihood": "auto"}, "image_size": None, "channels": None,
                             "test_fraction": 0.1, "image_shape": [28, 28, 1], "num_classes": 10}
    assert set(doc["versions"]) >= {"tfgen", "tensorflow", "keras"}
    assert doc["data"]["num_train"] == 256 and doc["data"]["num_test"] == 64
    assert config_lib.load(out / "config.json").latent_dim == 4

    grid = iio.imread(out / "images" / "epoch_0003.png")
    assert grid.ndim == 2 and grid.dtype == np.uint8  # one 4x4 grid of grayscale samples
    assert (out / "checkpoints" / "checkpoint").is_file()
    assert "wrote" in result.stdout and "progress.gif" in result.stdout

    # A second run into the same directory is refused; --overwrite replaces it.
    again = run_train("cvae", "--epochs", "1", "--data-dir", str(data_dir), "--out", str(out), *TINY)
    assert again.returncode == 2 and "already holds a run" in again.stderr
    assert len(read_rows(out)) == 3
    (out / "marker").write_text("from the first run")
    again = run_train("cvae", "--epochs", "1", "--data-dir", str(data_dir), "--out", str(out), "--overwrite", *TINY)
    assert again.returncode == 0, again.stderr[-3000:]
    assert not (out / "marker").exists()
    assert_complete_run(out, 1)


class PoisonEpoch(keras.callbacks.Callback):
    """Makes the logs of one epoch non-finite, as a diverging run would."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            logs["loss"] = float("nan")


def test_non_finite_loss_stops_with_the_epoch_and_keeps_the_last_good_checkpoint(tmp_path, data_dir, capsys):
    out = tmp_path / "run"
    flags = {"epochs": 4, "batch_size": 64, "latent_dim": 4, "data_dir": str(data_dir), "out": str(out), "verbose": 0}
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss \(nan\) in epoch 2") as stopped:
        tfgen.train("cvae", callbacks=[PoisonEpoch(2)], **flags)
    assert stopped.value.checkpoint.endswith("ckpt-1")
    assert [int(r["epoch"]) for r in read_rows(out)] == [1]
    assert sorted(p.name for p in (out / "images").iterdir()) == ["epoch_0000.png", "epoch_0001.png"]
    assert not (out / "saved_model").exists()
    # The last good checkpoint resumes.
    tfgen.train("cvae", resume=True, **flags)
    assert_complete_run(out, 4)


def test_a_diverging_learning_rate_stops_in_epoch_1(tmp_path, data_dir):
    out = tmp_path / "run"
    result = run_train("cvae", "--epochs", "3", "--lr", "1e12", "--data-dir", str(data_dir), "--out", str(out), *TINY)
    assert result.returncode == 1
    assert "in epoch 1; no epoch finished, so there is no checkpoint" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (out / "metrics.csv").exists()


def test_python_dash_m_tfgen_is_train_py():
    result = subprocess.run([sys.executable, "-m", "tfgen", "--list"], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0
    models = [line.split()[0] for line in result.stdout.splitlines() if not line.startswith(" ")]
    assert models == registry.names()


@pytest.mark.parametrize("name", registry.names())
def test_every_model_trains_and_writes_its_run_directory(tmp_path, data_dir, name):
    out = tmp_path / name
    tfgen.train(name, epochs=2, batch_size=64, latent_dim=4, data_dir=str(data_dir), out=str(out), verbose=0,
                options=tiny_options(name))
    rows = assert_complete_run(out, 2)
    model = registry.get(name)
    assert [c for c in rows[0] if c in model.loss_names] == list(model.loss_names)
    assert [c for c in rows[0] if c.startswith("test_")] == [f"test_{n}" for n in model.loss_names]
    grid = iio.imread(out / "images" / "epoch_0002.png")
    if model.has("points"):  # a colour scatter over D's surface, and the mode metrics
        assert grid.ndim == 3 and grid.shape[2] == 3
        assert {"modes_covered", "high_quality"} <= set(rows[0])
        return
    rows_, cols = model.grid_shape
    assert grid.shape[0] == 3 * (rows_ * 30 + 2)  # 28-pixel images enlarged 3 times; 10 classes: 10 rows
    if model.has("conditional"):  # the class names in a column on the left
        assert grid.shape[1] > 3 * (cols * 30 + 2)
    else:
        assert grid.shape[1] == 3 * (cols * 30 + 2)


def test_gan_resume_restores_both_networks_and_both_optimizers(tmp_path):
    out = tmp_path / "gan"
    cfg = tfgen.train("gan", epochs=2, train_size=512, out=str(out), verbose=0).settings
    trained = registry.get("gan")(latent_dim=32, learning_rate=1e-3)
    trained.compile()
    assert Checkpoints(out / "checkpoints", trained, trained.named_optimizers()).restore() == 2
    d_optimizer = trained.named_optimizers()["d_optimizer"]
    assert int(trained.optimizer.iterations) == int(d_optimizer.iterations) == 2 * 4  # 512 / 128 steps
    assert all(float(np.abs(v.numpy()).sum()) > 0 for v in d_optimizer.variables[2:])  # Adam moments
    # G as restored generates what the run exported after its last epoch; D is not its initial self.
    import tensorflow as tf

    z = tf.random.normal((5, 32), seed=1)
    exported = tf.saved_model.load(str(out / "saved_model")).signatures["generate"](z=z)["points"]
    np.testing.assert_allclose(trained.sample(z).numpy(), exported.numpy(), atol=1e-5)
    keras.utils.set_random_seed(cfg.seed)  # the run's initial weights, as training draws them
    fresh = registry.get("gan")(latent_dim=32, learning_rate=1e-3)
    assert not np.allclose(fresh.discriminate(z[:, :2]).numpy(), trained.discriminate(z[:, :2]).numpy())
    # Resuming to more epochs continues both players from there.
    tfgen.train("gan", epochs=3, train_size=512, out=str(out), resume=True, verbose=0)
    assert [int(r["epoch"]) for r in read_rows(out)] == [1, 2, 3]


@pytest.mark.parametrize("name", ["cgan", "dcgan", "cvae_gan"])
def test_multi_network_resume_restores_every_network_and_optimizer(tmp_path, data_dir, name):
    out = tmp_path / name
    flags = {"batch_size": 32, "train_size": 64, "data_dir": str(data_dir), "out": str(out), "verbose": 0}
    tfgen.train(name, epochs=1, **flags)
    cfg = config_lib.load(out / "config.json")
    keras.utils.set_random_seed(cfg.seed)  # the run's initial weights, as training draws them
    fresh = cfg.make_model()
    restored = cfg.make_model()
    restored.compile()
    assert Checkpoints(out / "checkpoints", restored, restored.named_optimizers()).restore() == 1
    for opt_name, optimizer in restored.named_optimizers().items():
        assert int(optimizer.iterations) == 2, opt_name  # 64 images / 32 per step
    # Every network (not only the generator) holds its trained weights, not its initial ones.

    def networks(model):
        return [layer for layer in model.layers if isinstance(layer, keras.Model)]

    assert len(networks(restored)) == (4 if name == "cvae_gan" else 2)  # cvae_gan: encoder, decoder, D, C
    for initial, net in zip(networks(fresh), networks(restored)):
        assert any(not np.allclose(a, b) for a, b in zip(initial.get_weights(), net.get_weights())), net.name
    # The generator as restored is what the run exported.
    import tensorflow as tf

    z = tf.random.normal((4, cfg.latent_dim), seed=1)
    labels = tf.constant([0, 3, 5, 9])
    generate = tf.saved_model.load(str(out / "saved_model")).signatures["generate"]
    conditional = restored.has("conditional")
    exported = generate(z=z, label=labels) if conditional else generate(z=z)
    np.testing.assert_allclose(restored.sample(z, labels if conditional else None).numpy(),
                               exported["images"].numpy(), atol=1e-5)
    tfgen.train(name, epochs=2, resume=True, **flags)
    assert [int(r["epoch"]) for r in read_rows(out)] == [1, 2]
