"""cvae: the TensorFlow tutorial's convolutional VAE."""

import numpy as np
import tensorflow as tf

from tfgen import config

from conftest import body
from conftest import build_model as build
from conftest import model_batch as batch


def test_cvae_defaults_are_the_tutorials():
    assert config.model_defaults("cvae") == {"epochs": 100, "batch_size": 100, "latent_dim": 50, "lr": 1e-4}


def test_cvae_architecture_matches_the_tutorial():
    model = build("cvae", latent_dim=50)
    enc = [(type(layer).__name__, layer.output.shape[1:]) for layer in body(model.inference_net)]
    dec = [(type(layer).__name__, layer.output.shape[1:]) for layer in body(model.generative_net)]
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
