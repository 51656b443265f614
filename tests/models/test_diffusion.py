"""diffusion: the U-Net, the schedule's use in training, the moving average and DDIM sampling."""

import numpy as np
import pytest
import tensorflow as tf

from tfgen import config, latent, quality
from tfgen.errors import ConfigError
from tfgen.losses import diffusion_schedule
from tfgen.models import diffusion

from conftest import build_model as build
from conftest import model_batch as batch


def test_the_unet_keeps_the_image_shape_pads_what_its_levels_cannot_halve_and_starts_at_zero():
    net = diffusion.unet((28, 28, 3), (8, 16, 32), 1, (7,), 0.0)
    out = net([tf.random.normal((2, 28, 28, 3)), tf.constant([0.1, 0.9])])
    assert out.shape == (2, 28, 28, 3) and out.dtype == tf.float32
    np.testing.assert_array_equal(out.numpy(), 0.0)  # the last convolution starts at zero
    padded = diffusion.unet((28, 20, 1), (8, 16, 32, 32), 1, (), 0.0)  # 28x20 -> 32x24 inside
    assert padded([tf.zeros((1, 28, 20, 1)), tf.zeros((1,))]).shape == (1, 28, 20, 1)
    assert diffusion.resolutions((28, 28, 1), 4) == [32, 16, 8, 4]
    kinds = {type(layer).__name__ for layer in net.layers}
    assert {"GroupNormalization", "MultiHeadAttention", "NoiseLevelEmbedding"} <= kinds
    assert "BatchNormalization" not in kinds  # nothing depends on how the batch is split


def test_attention_at_a_resolution_the_unet_never_reaches_is_refused_naming_those_it_does():
    cfg = config.resolve("diffusion", {"options": {"widths": "8,16", "attention": "7"}})
    with pytest.raises(ConfigError, match=r"--option attention=7: the U-Net never works at 7x7 on 28x28 images with "
                                          r"2 levels; it works at 28, 14 \(or none\)"):
        cfg.with_data((28, 28, 1), 10)
    config.resolve("diffusion", {"options": {"widths": "8,16", "attention": "14"}}).with_data((28, 28, 1), 10)


def test_the_loss_is_the_error_of_the_predicted_noise_at_the_drawn_time(monkeypatch):
    model = build("diffusion", target="eps", loss="mae")
    x0, labels = batch(model, n=4)
    model.network.layers[-2].kernel.assign(tf.zeros_like(model.network.layers[-2].kernel))
    # A network that predicts zero: the loss is the mean absolute noise drawn, about sqrt(2 / pi) = 0.80.
    losses = [float(model.compute_losses((x0, labels))["loss"]) for _ in range(20)]
    assert abs(np.mean(losses) - np.sqrt(2 / np.pi)) < 0.02


@pytest.mark.parametrize("loss, zero_loss", [("mae", np.sqrt(2 / np.pi)), ("mse", 1.0)])
def test_the_test_set_denoising_loss_is_the_moving_averages_at_times_and_noise_fixed_by_the_seed(loss, zero_loss):
    model = build("diffusion", loss=loss, target="eps")
    kernel = model.network.layers[-2].kernel
    kernel.assign(tf.random.normal(kernel.shape))  # the trained network now predicts; its average still predicts 0
    x0 = batch(model, n=100)[0].numpy()
    scored = quality.denoising(model, x0, None, batch_size=32)
    # The average predicts zero: its loss is the mean absolute (squared) noise, about sqrt(2 / pi) (1).
    assert abs(scored["loss"] - zero_loss) < 0.02 and scored["images"] == 100 and scored["kind"] == loss
    assert quality.denoising(model, x0, None) == scored != quality.denoising(model, x0, None, seed=1)


@pytest.mark.parametrize("ema, steps, decay", [(0.999, 1, 2 / 11), (0.999, 3, 4 / 13),
                                               pytest.param(0.5, 9, 0.5, marks=pytest.mark.slow)])
def test_each_step_moves_the_moving_average_by_one_minus_its_warmed_up_decay(ema, steps, decay):
    model = build("diffusion", ema=ema)
    np.testing.assert_array_equal(model.ema_network.weights[0].numpy(), model.network.weights[0].numpy())  # a copy
    for _ in range(steps - 1):
        model.train_step(batch(model))
    before = [w.numpy().copy() for w in model.ema_network.weights]
    model.train_step(batch(model))  # step n: the decay is min(ema, (1 + n) / (10 + n))
    for average, old, new in zip(model.ema_network.weights, before, model.network.weights):
        np.testing.assert_allclose(average.numpy(), decay * old + (1 - decay) * new.numpy(), atol=1e-6)
    assert not model.ema_network.trainable_weights  # the optimizer never trains it


@pytest.mark.parametrize("target", ["eps", "v"])
def test_ddim_with_a_network_that_knows_the_answer_gives_the_image_in_any_number_of_steps(target, monkeypatch):
    """Every DDIM step from the exact prediction lands on the same image, so the sampler's algebra is right."""
    model = build("diffusion", target=target)
    x0 = tf.random.uniform((3, 28, 28, 1), -1.0, 1.0, seed=1)
    z = tf.random.normal((3, 28, 28, 1), seed=2)

    def oracle(x_t, t, labels=None, guidance=None):  # the noise (or v) that x_t holds beside x0
        signal, noise = (r[:, None, None, None] for r in diffusion_schedule(t))
        eps = (x_t - signal * x0) / noise
        return eps if target == "eps" else signal * eps - noise * x0

    monkeypatch.setattr(model, "guided", oracle)
    for steps in (1, 3, 10):
        np.testing.assert_allclose(model.ddim(z, None, tf.constant(steps), 0.0).numpy(), x0.numpy(), atol=1e-4)


@pytest.mark.slow  # six DDIM runs, traced three ways (6 s)
def test_sampling_is_fixed_by_the_noise_eta_adds_seeded_noise_and_the_trajectory_ends_at_the_sample():
    model = build("diffusion", steps=4)
    model.train_step(batch(model))
    model.ema_network.set_weights(model.network.get_weights())  # a network that is not zero yet
    z = tf.random.normal((2, 28, 28, 1), seed=3)
    a, b = model.sample(z).numpy(), model.sample(z).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, model.sample(z, steps=1).numpy())
    ancestral = build("diffusion", steps=4, eta=1.0)
    ancestral.set_weights(model.get_weights())
    c = ancestral.sample(z).numpy()
    np.testing.assert_array_equal(c, ancestral.sample(z).numpy())  # fresh noise drawn from the seed and step
    assert not np.allclose(a, c)
    path = model.trajectory(z, points=3).numpy()
    assert path.shape == (3, 2, 28, 28, 1) and path.min() >= 0 and path.max() <= 1
    np.testing.assert_allclose(path[-1], a, atol=1e-6)
    every = model.trajectory(z, points=9).numpy()  # at most one point per step: every step's
    assert every.shape[0] == 4
    # the points kept are those after the steps trajectory_steps names (what explore's rows are labelled)
    assert latent.trajectory_steps(3, 4) == [2, 3, 4] and latent.trajectory_steps(6, 20)[:2] == [4, 7]
    np.testing.assert_allclose(path, every[[s - 1 for s in latent.trajectory_steps(3, 4)]], atol=1e-6)


def test_defaults_are_the_keras_io_ddim_examples_with_a_smaller_unet():
    model = build("diffusion", widths=diffusion.DEFAULT_WIDTHS, blocks=2)
    assert (model.widths, model.blocks, model.attention, model.target, model.loss) == ((16, 32, 64), 2, (), "v",
                                                                                       "mse")
    assert model.ema == 0.999 and type(model.optimizer).__name__ == "AdamW" and model.optimizer.weight_decay == 1e-4
    assert config.model_defaults("diffusion")["lr"] == 1e-3
    assert model.noise_shape == (28, 28, 1) and model.draw_noise(2, np.random.default_rng(0)).shape == (2, 28, 28, 1)
