"""cgan: the conditional MLP GAN."""

import numpy as np
import tensorflow as tf

from tfgen import config

from conftest import body
from conftest import build_model as build


def test_cgan_architecture_matches_the_reference():
    model = build("cgan", latent_dim=100)
    kinds = [type(layer).__name__ for layer in body(model.generator, "tanh")]
    assert kinds == ["Dense", "LeakyReLU", "Dense", "BatchNormalization", "LeakyReLU", "Dense",
                     "BatchNormalization", "LeakyReLU", "Dense", "Reshape"]
    bns = [layer for layer in model.generator.layers if type(layer).__name__ == "BatchNormalization"]
    assert all(bn.epsilon == 0.8 and bn.momentum == 0.9 for bn in bns)  # BatchNorm1d(n, 0.8): eps 0.8
    assert model.generator.layers[0].kernel.shape[0] == 110
    assert [layer.units for layer in body(model.discriminator) if hasattr(layer, "units")] == [512, 256, 1]
    assert model.discriminator.layers[0].kernel.shape[0] == 794
    assert config.model_defaults("cgan") == {"epochs": 30, "batch_size": 64, "latent_dim": 100, "lr": 2e-4}
    assert {o.beta_1 for o in model.named_optimizers().values()} == {0.5}
    assert model.input_range == "tanh" and model.grid_shape == (10, 10)


def test_cgan_samples_follow_the_label_and_stay_in_unit_range():
    model = build("cgan")
    z = tf.random.normal((2, 8), seed=5)
    a, b = model.sample(z, tf.constant([3, 3])).numpy(), model.sample(z, tf.constant([3, 8])).numpy()
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.allclose(a[1], b[1])
    assert a.min() >= 0.0 and a.max() <= 1.0
