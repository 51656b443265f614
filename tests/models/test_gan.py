"""gan: the toy 2-D GAN."""

import numpy as np
import pytest
import tensorflow as tf

from tfgen import config, registry

from conftest import body
from conftest import build_model as build
from conftest import model_batch as batch


def test_gan_architecture_and_defaults_match_the_reference():
    model = build("gan", latent_dim=32)
    assert [layer.units for layer in body(model.generator)] == [128, 2]
    assert [layer.units for layer in body(model.discriminator)] == [128, 1]
    assert config.model_defaults("gan") == {"epochs": 100, "batch_size": 128, "dataset": "ring", "latent_dim": 32,
                                            "lr": 1e-3}
    assert model.sample(tf.zeros((3, 32))).shape == (3, 2)
    p = model.discriminate(tf.zeros((4, 2))).numpy()
    assert p.shape == (4,) and np.all((p > 0) & (p < 1))


def test_gan_losses_are_the_reference_cross_entropies():
    model = build("gan")
    real = batch(model, n=8)[0]
    # With D's output layer zeroed, D(x) = 1/2 everywhere: D's loss is 2 log 2 and G's log 2.
    out = body(model.discriminator)[-1]
    out.kernel.assign(tf.zeros_like(out.kernel))
    out.bias.assign(tf.zeros_like(out.bias))
    np.testing.assert_allclose(float(model.d_losses((real, None))["d_loss"]), 2 * np.log(2), rtol=1e-6)
    np.testing.assert_allclose(float(model.g_losses((real, None))["g_loss"]), np.log(2), rtol=1e-6)


def test_packed_gan_discriminator_judges_packs_of_samples():
    model = registry.get("gan")(latent_dim=32, learning_rate=1e-3, seed=1, pack=2)
    model.compile()
    assert model.discriminator.layers[0].kernel.shape[0] == 4  # two 2-D points per decision
    points = tf.random.normal((11, 2), seed=2)
    assert model.critic(points, None).shape == (5, 1)  # the 11th point fills no pack
    assert model.discriminate(points).shape == (11,)  # the surface: each point packed with itself
    logs = model.train_step(batch(model, n=16))
    assert np.isfinite(float(logs["d_loss"])) and np.isfinite(float(logs["g_loss"]))
    assert config.model_options("gan")["pack"] == 1  # the reference's D by default
    assert config.check_options("gan", {"pack": "4"}) == {"pack": 4}
    with pytest.raises(ValueError, match=r"--option pack='3' is not allowed; choose one of: 1, 2, 4"):
        config.check_options("gan", {"pack": "3"})


def test_generator_update_draws_fresh_noise_as_the_reference_does():
    # The reference's G step draws new z: no fakes are shared between D's and G's update.
    model = build("gan")
    data = batch(model)
    assert model.shared_draws(data, training=True) == {}
    first, second = (float(model.g_losses(data, True)["g_loss"]) for _ in range(2))
    assert first != second  # each call draws new z
