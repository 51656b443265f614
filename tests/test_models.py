"""The model contract, checked for every registered model."""

import numpy as np
import pytest
import tensorflow as tf

from tfgen import config, registry
from tfgen.data import to_float

from conftest import make_arrays

MODELS = registry.names()


def build(name, latent_dim=8, seed=1):
    model = registry.get(name)(latent_dim=latent_dim, learning_rate=1e-3, seed=seed)
    model.compile()
    return model


def batch(model, n=8):
    arrays = make_arrays(num_train=n, num_test=1)
    return tf.constant(to_float(arrays["x_train"], model.input_range)), tf.constant(arrays["y_train"].astype(np.int32))


def test_registry_lists_the_tutorial_cvae():
    assert "cvae" in MODELS


def test_unknown_model_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown model 'nope'; choose one of: .*cvae"):
        registry.get("nope")


@pytest.mark.parametrize("name", MODELS)
def test_sample_is_in_unit_range_with_image_shape_and_deterministic(name):
    model = build(name)
    z = tf.random.normal((5, 8), seed=3)
    images = model.sample(z).numpy()
    assert images.shape == (5, 28, 28, 1)
    assert images.min() >= 0.0 and images.max() <= 1.0
    np.testing.assert_array_equal(images, model.sample(z).numpy())


@pytest.mark.parametrize("name", MODELS)
def test_one_train_step_gives_finite_losses_and_changes_weights(name):
    model = build(name)
    data = batch(model)
    before = [w.numpy().copy() for w in model.trainable_weights]
    logs = model.train_step(data)
    assert set(model.loss_names) <= set(logs)
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert any(not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights))


@pytest.mark.parametrize("name", MODELS)
def test_test_step_does_not_change_weights(name):
    model = build(name)
    before = [w.numpy().copy() for w in model.trainable_weights]
    logs = model.test_step(batch(model))
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert all(np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights))


@pytest.mark.parametrize("name", MODELS)
def test_get_config_round_trips_the_hyperparameters(name):
    model = build(name, latent_dim=6, seed=4)
    cfg = model.get_config()
    assert cfg["latent_dim"] == 6 and cfg["learning_rate"] == 1e-3 and cfg["seed"] == 4
    again = registry.get(name)(**cfg)
    assert again.get_config() == cfg


@pytest.mark.parametrize("name", MODELS)
def test_grid_inputs_are_fixed_by_the_seed(name):
    model = build(name)
    a, b, c = model.grid_inputs(7), model.grid_inputs(7), model.grid_inputs(8)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["z"], c["z"])
    rows, cols = model.grid_shape
    assert a["z"].shape == (rows * cols, 8)


@pytest.mark.parametrize("name", MODELS)
def test_model_defaults_are_valid_cli_defaults(name):
    defaults = config.model_defaults(name)
    assert set(defaults) == {"epochs", "batch_size", "latent_dim", "lr"}
    config.resolve(name, {})  # validates


def test_cvae_defaults_are_the_tutorials():
    assert config.model_defaults("cvae") == {"epochs": 100, "batch_size": 100, "latent_dim": 50, "lr": 1e-4}


def test_cvae_architecture_matches_the_tutorial():
    model = build("cvae", latent_dim=50)
    enc = [(type(layer).__name__, layer.output.shape[1:]) for layer in model.inference_net.layers]
    dec = [(type(layer).__name__, layer.output.shape[1:]) for layer in model.generative_net.layers]
    assert enc == [("Conv2D", (13, 13, 32)), ("Conv2D", (6, 6, 64)), ("Flatten", (2304,)), ("Dense", (100,))]
    assert dec == [("Dense", (1568,)), ("Reshape", (7, 7, 32)), ("Conv2DTranspose", (14, 14, 64)),
                   ("Conv2DTranspose", (28, 28, 32)), ("Conv2DTranspose", (28, 28, 1))]
    mean, logvar = model.encode(tf.zeros((3, 28, 28, 1)))
    assert mean.shape == logvar.shape == (3, 50)


def test_cvae_loss_terms_add_up_to_the_negative_elbo():
    model = build("cvae")
    losses = model.compute_losses(batch(model))
    np.testing.assert_allclose(float(losses["loss"]), -float(losses["elbo"]), rtol=1e-6)
    np.testing.assert_allclose(float(losses["loss"]), float(losses["reconstruction"]) + float(losses["kl"]), rtol=1e-5)
    # An untrained decoder outputs probabilities near 1/2: about 784 * log 2 nats of reconstruction.
    assert 300 < float(losses["reconstruction"]) < 800
