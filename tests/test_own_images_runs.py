"""Training on a user's own images: the commands end to end, and every bad input refused before a run exists."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest

import tfgen
from tfgen import registry
from tfgen.data.folders import IN_MEMORY_ENV
from tfgen.commands import evaluate as evaluate_command
from tfgen.commands import explore, main
from tfgen.rundir import read_metrics

from conftest import make_run
from conftest import class_folders, picture, write


def cli(*args):
    try:
        return main([str(a) for a in args])
    except SystemExit as e:  # argparse's usage errors
        return e.code


@pytest.fixture(scope="module")
def colour_folder(tmp_path_factory):
    """Three classes of 16x12 colour PNGs in train/ and test/ folders."""
    root = tmp_path_factory.mktemp("pictures")
    class_folders(root, 8, size=(16, 12), split="train")
    class_folders(root, 2, size=(16, 12), split="test")
    return root


@pytest.fixture(scope="module")
def unlabelled_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("unlabelled")
    for i in range(20):
        write(root / f"{i:02d}.png", picture(i % 3, (16, 16), i))
    return root


# ----- refused before anything is written -----

@pytest.mark.parametrize("args, message", [
    (["cgan", "--dataset", "{unlabelled}"], "model 'cgan' is conditional and needs labelled data"),
    (["dcgan", "--dataset", "{colour}", "--image-size", "30"],
     "model 'dcgan' cannot take images of height 30: it takes sizes that are multiples of 4 from 28; the nearest: "
     "28 or 32 (pass --image-size)"),
    (["cvae", "--dataset", "{colour}", "--image-size", "16x6"], "cannot take images of width 6"),
    (["vae", "--dataset", "{colour}", "--image-size", "big"], "--image-size takes N or HxW"),
    (["vae", "--dataset", "{colour}", "--channels", "2"], "--channels must be 1 (grey) or 3 (colour); got 2"),
    (["vae", "--dataset", "{colour}", "--test-fraction", "1.5"], "--test-fraction must be between 0 and 1"),
    (["vae", "--dataset", "{colour}/nowhere"], "nowhere: no such file or directory"),
    (["gan", "--dataset", "{colour}"], "model 'gan' trains on points"),
    (["vae", "--dataset", "{unlabelled}", "--eval-every", "1"], "--eval-every scores samples with a classifier "
                                                               "trained on the data's labels; this data has none"),
])
def test_bad_data_exits_2_with_one_line_and_leaves_no_run(tmp_path, capsys, colour_folder, unlabelled_folder,
                                                          args, message):
    out = tmp_path / "run"
    args = [a.format(colour=colour_folder, unlabelled=unlabelled_folder) for a in args]
    assert cli(*args, "--epochs", "1", "--out", out) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_mixed_sizes_without_image_size_exit_2_naming_the_flag(tmp_path, capsys):
    write(tmp_path / "pics" / "a.png", picture(0, (8, 8)))
    write(tmp_path / "pics" / "b.png", picture(0, (12, 8)))
    assert cli("vae", "--dataset", tmp_path / "pics", "--out", tmp_path / "run") == 2
    assert "images of different sizes (8x8 and 12x8, HxW); pass --image-size" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_resumed_run_refuses_another_image_size_or_channels(tmp_path, capsys, colour_folder):
    run = make_run(tmp_path / "run", "vae", dataset=str(colour_folder), image_size="16x12")
    config = json.loads((run / "config.json").read_text())["config"]
    assert config["image_shape"] == [16, 12, 3] and config["num_classes"] == 3
    assert config["dataset"] == str(colour_folder.resolve())  # absolute: the run names its data anywhere
    before = sorted(p.name for p in run.rglob("*"))
    for flags, message in ((["--image-size", "32"], "--image-size 32x32 differs from the resumed run's "
                                                    "image_size='16x12'"),
                           (["--channels", "1"], "--channels 1 differs from the resumed run's channels=None")):
        assert cli("vae", "--dataset", colour_folder, "--out", run, "--resume", "--epochs", "2", *flags) == 2
        assert message in capsys.readouterr().err
    assert sorted(p.name for p in run.rglob("*")) == before


@pytest.mark.slow  # builds every model twice at full size (2 s)
def test_every_image_model_builds_from_the_data_shape_and_classes():
    """Sizes the strides take, any channel count, the data's classes: each model samples (N, H, W, C)."""
    for name in registry.names():
        cls = registry.get(name)
        if cls.has("points"):
            continue
        model = cls(latent_dim=4, learning_rate=1e-3, seed=0, image_shape=(32, 36, 3), num_classes=4)
        args = (np.array([0, 3], np.int32),) if model.has("conditional") else ()
        assert model.sample(model.draw_noise(2, np.random.default_rng(0)), *args).shape == (2, 32, 36, 3), name
        again = cls(**model.get_config())
        assert again.count_params() == model.count_params(), name


def test_the_likelihood_is_binarized_for_grey_and_unbinarized_for_colour():
    cvae = registry.get("cvae")
    assert cvae(learning_rate=1e-3).input_range == "binarized"
    assert cvae(learning_rate=1e-3, image_shape=(8, 8, 3)).input_range == "unit"
    assert cvae(learning_rate=1e-3, image_shape=(8, 8, 3), likelihood="binarized").input_range == "binarized"
    assert cvae(learning_rate=1e-3, likelihood="bernoulli").likelihood_range == "unit"
    assert registry.get("vae")(learning_rate=1e-3, image_shape=(8, 8, 3)).likelihood_range == "unit"


# ----- trained end to end (slow) -----

@pytest.mark.slow
def test_a_colour_class_folder_trains_exports_evaluates_and_explores(tmp_path, colour_folder, monkeypatch, capsys):
    import tensorflow as tf

    monkeypatch.setenv("TFGEN_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "cgan"
    assert cli("cgan", "--dataset", colour_folder, "--epochs", "1", "--batch-size", "8", "--out", out) == 0
    doc = json.loads((out / "config.json").read_text())
    assert doc["data"]["class_names"] == ["cat", "dog", "fox"] and doc["config"]["image_shape"] == [16, 12, 3]
    grid = iio.imread(out / "images" / "epoch_0001.png")
    assert grid.ndim == 3 and grid.shape[2] == 3  # RGB
    assert grid.shape[0] == 6 * (3 * (16 + 2) + 2)  # a row per class, each image enlarged 6 times (to 96 pixels)
    assert grid.shape[1] > 6 * (10 * (12 + 2) + 2)  # and a column of class names
    generate = tf.saved_model.load(str(out / "saved_model")).signatures["generate"]
    assert generate.structured_outputs["images"].shape.as_list() == [None, 16, 12, 3]
    images = generate(z=tf.zeros((2, 100)), label=tf.constant([0, 2]))["images"]
    assert images.shape == (2, 16, 12, 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"label must be a class 0..2"):
        generate(z=tf.zeros((1, 100)), label=tf.constant([3]))
    capsys.readouterr()
    assert evaluate_command.main([str(out), "--num-samples", "6"]) == 0
    result = json.loads((out / "evaluation.json").read_text())
    assert result["classifier"]["dataset"] == str(colour_folder.resolve()) and result["samples"]["num_samples"] == 6
    assert "classifier test accuracy" in capsys.readouterr().out
    assert explore.main(["conditional-grid", str(out), "--columns", "4"]) == 0
    grid = iio.imread(out / "explore" / "conditional_grid.png")  # 16x12 images enlarged 6 times, names on the left
    assert grid.shape[0] == 6 * (3 * 18 + 2) and grid.shape[1] > 6 * (4 * 14 + 2)


@pytest.mark.slow
def test_unlabelled_colour_npz_trains_under_its_own_likelihood_and_skips_classifier_scores(tmp_path, capsys):
    x = np.stack([picture(i % 3, (16, 16), i) for i in range(40)])
    np.savez(tmp_path / "faces.npz", x_train=x)
    out = tmp_path / "cvae"
    assert cli("cvae", "--dataset", tmp_path / "faces.npz", "--epochs", "1", "--batch-size", "12",
               "--latent-dim", "4", "--out", out) == 0
    run = tfgen.load(out)
    assert run.model.input_range == "unit" and run.config["options"]["likelihood"] == "auto"
    result = run.evaluate(num_samples=4, k=3)
    assert result["likelihood"]["pixels"] == "unit" and result["likelihood"]["images"] == 4
    assert "has no labels" in result["note"] and "samples" not in result
    capsys.readouterr()
    assert explore.main(["retrieve", str(out), "--k", "2"]) == 0
    assert "no precision@2: the run's data has no labels" in capsys.readouterr().out
    assert explore.main(["reconstruct", str(out), "--n", "3"]) == 0


@pytest.mark.slow
def test_mnist_resized_to_32_trains_and_exports_32x32_signatures(tmp_path, data_dir):
    import tensorflow as tf

    out = tmp_path / "cvae32"
    assert cli("cvae", "--dataset", "mnist", "--data-dir", data_dir, "--image-size", "32", "--epochs", "1",
               "--latent-dim", "4", "--out", out) == 0
    encode = tf.saved_model.load(str(out / "saved_model")).signatures["encode"]
    assert encode.structured_input_signature[1]["images"].shape.as_list() == [None, 32, 32, 1]
    assert tfgen.load(out).sample(3).shape == (3, 32, 32, 1)


@pytest.mark.slow
def test_a_streamed_folder_trains_exactly_as_one_held_in_memory(tmp_path, monkeypatch):
    folder = class_folders(tmp_path / "pics", 12, size=(8, 8))
    settings = dict(dataset=str(folder), epochs=2, batch_size=10, latent_dim=3, verbose=0)
    held = tfgen.train("vae", out=str(tmp_path / "held"), **settings)
    monkeypatch.setenv(IN_MEMORY_ENV, "0.001")
    streamed = tfgen.train("vae", out=str(tmp_path / "streamed"), **settings)
    assert json.loads((streamed.path / "config.json").read_text())["data"]["streamed"] is True
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("seconds", "images_per_s")} for r in rows]  # noqa
    assert strip(read_metrics(held.path)) == strip(read_metrics(streamed.path))


@pytest.mark.slow
def test_inception_features_use_cached_weights_and_say_so_when_there_are_none(tmp_path, monkeypatch, data_dir):
    import keras

    from tfgen import inception

    run = make_run(tmp_path / "run", "dcgan", data_dir=str(data_dir))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    with pytest.raises(inception.InceptionUnavailableError, match=r"keras/models/inception_v3_weights_tf_dim_"
                                                                  r"ordering_tf_kernels_notop\.h5 is not there"):
        tfgen.load(run).evaluate(num_samples=4, features="inception")
    inception.weights_path().parent.mkdir(parents=True)
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(inception.weights_path(), "w") as f:  # random weights in the cache's place, in its file layout
        legacy_h5_format.save_weights_to_hdf5_group(f, keras.applications.InceptionV3(include_top=False, weights=None))
    result = tfgen.load(run).evaluate(num_samples=4, features="inception")
    assert result["inception"]["num_samples"] == 4 and np.isfinite(result["inception"]["kid"])
    assert result["inception"]["fid"] is None  # 4 images cannot fit a covariance of 2,048 features
    assert result["warnings"] == ["the Fréchet distance is not computed from 4 images: a covariance of 2048 features "
                                  "needs more than 2048 images (give more test images, and --num-samples above 2048)"]
    assert "samples" not in result


@pytest.mark.slow  # trains twice (8 s)
def test_a_resume_on_changed_images_is_refused_unless_allowed(tmp_path, capsys):
    root = class_folders(tmp_path / "pets", 6)
    out = tfgen.train("cvae", epochs=1, dataset=str(root), batch_size=8, latent_dim=2, out=str(tmp_path / "run"),
                      verbose=0).path
    before = (out / "config.json").read_text()
    resume = ["cvae", "--dataset", str(root), "--out", str(out), "--resume", "--epochs", "2"]
    write(root / "cat" / "000.png", picture(1, index=3))  # same name, size and classes: other pixels
    assert cli(*resume) == 2
    assert f"the data is not what the run in {out} trained on (the same number of images, but other images or " \
        "labels); resume it with its own data, or pass --allow-changed-data" in capsys.readouterr().err
    write(root / "dog" / "new.png", picture(1, index=4))
    assert cli(*resume) == 2
    assert "(16 training and 3 test images, where it had 15 and 3)" in capsys.readouterr().err
    assert (out / "config.json").read_text() == before and not (out / "images" / "epoch_0002.png").exists()
    assert cli(*resume, "--allow-changed-data") == 0
    assert "as --allow-changed-data asks" in capsys.readouterr().err
    assert cli(*resume[:-1], "3") == 0  # the fingerprint now recorded is the new data's


@pytest.mark.slow
def test_a_streamed_file_that_changes_during_training_ends_the_run_in_one_line(tmp_path):
    """Resized files: the case that once hung. Deleted and truncated files take the same way (tests/test_own_images.py
    checks each one's message)."""
    import subprocess
    import time

    from conftest import TRAIN_PY, train_env

    folder = class_folders(tmp_path / "pics", 40, size=(16, 16))
    out = tmp_path / "run"
    stderr = tmp_path / "stderr"
    args = ["vae", "--dataset", folder, "--out", out, "--epochs", "10000", "--batch-size", "16", "--latent-dim", "2"]
    with open(stderr, "w") as err:
        process = subprocess.Popen([*TRAIN_PY, *map(str, args)], env=train_env(**{IN_MEMORY_ENV: "0.001"}),
                                   stdout=subprocess.DEVNULL, stderr=err)
    try:
        while not (out / "images" / "epoch_0001.png").exists() and process.poll() is None:
            time.sleep(0.05)
        for f in sorted(folder.rglob("*.png")):
            write(f, picture(0, size=(20, 20)))
        status = process.wait(timeout=120)  # it must end, however tf.data failed
    finally:
        process.kill()
    lines = [line for line in stderr.read_text().splitlines() if line.strip()]
    assert status == 1
    assert lines[-1].startswith(f"tfgen: error: the image file {folder}")
    assert "changed while the run read it" in lines[-1] and f"--out {out} --resume" in lines[-1]
    assert "Traceback" not in stderr.read_text()
