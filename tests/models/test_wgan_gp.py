"""wgan_gp: the Wasserstein GAN with gradient penalty."""

import numpy as np
import pytest
import tensorflow as tf

from tfgen import config, registry

from conftest import body
from conftest import build_model as build
from conftest import model_batch as batch


def test_defaults_are_the_papers():
    assert config.model_options("wgan_gp") == {"gp_weight": 10.0, "critic_steps": 5, "critic_norm": "none",
                                               "beta_1": 0.5, "beta_2": 0.9}
    assert config.model_defaults("wgan_gp") == {"epochs": 20, "batch_size": 320, "latent_dim": 100, "lr": 1e-4}
    model = build("wgan_gp")
    for optimizer in model.named_optimizers().values():
        assert type(optimizer).__name__ == "Adam"
        assert (optimizer.beta_1, optimizer.beta_2) == (0.5, 0.9)
    with pytest.raises(ValueError, match="--option critic_steps='0' is not allowed; it takes an integer from 1 to 100"):
        config.check_options("wgan_gp", {"critic_steps": "0"})


@pytest.mark.parametrize("norm, layer", [("none", "Identity"), ("layer", "LayerNormalization")])
def test_networks_are_dcgans_without_batchnorm_in_the_critic(norm, layer):
    model, dcgan = build("wgan_gp", latent_dim=100, critic_norm=norm), build("dcgan", latent_dim=100)
    kinds = [type(layer).__name__ for layer in body(model.generator, "tanh")]
    assert kinds == [type(layer).__name__ for layer in body(dcgan.generator, "tanh")]
    assert model.generator.count_params() == dcgan.generator.count_params()
    critic = [type(layer).__name__ for layer in body(model.discriminator)]
    reference = [type(layer).__name__ for layer in body(dcgan.discriminator)]
    swap = {"BatchNormalization": layer, "LeakyReLU": "Activation"}
    assert critic == [swap.get(kind, kind) for kind in reference]
    if norm == "layer":
        norms = [n for n in model.discriminator.layers if type(n).__name__ == "LayerNormalization"]
        assert len(norms) == 3 and all(list(n.axis) == [1, 2, 3] for n in norms)  # per example, whole feature map
    x = tf.constant([[-2.0, 0.0, 3.0]])
    leaky = next(layer for layer in model.discriminator.layers if type(layer).__name__ == "Activation")
    np.testing.assert_allclose(leaky(x).numpy(), [[-0.4, 0.0, 3.0]], rtol=1e-6)  # LeakyReLU(0.2)


def test_critic_loss_is_the_wasserstein_estimate_plus_the_weighted_penalty():
    model = build("wgan_gp", gp_weight=10.0)
    data, state = batch(model, n=8), model.seed_generator.state.numpy()
    losses = {k: float(v) for k, v in model.d_losses(data).items()}
    assert losses["gp"] > 0
    np.testing.assert_allclose(losses["d_loss"], -losses["w_distance"] + 10.0 * losses["gp"], rtol=1e-5)
    # Shifting every score by a constant (the critic's output bias) changes neither the estimate nor the penalty.
    out = body(model.discriminator)[-1]
    out.bias.assign(out.bias + 5.0)
    model.seed_generator.state.assign(state)  # the same fakes and interpolation weights
    shifted = {k: float(v) for k, v in model.d_losses(data).items()}
    # Adding 5 to float32 scores rounds each by up to about 5e-7, so the estimate, a difference of means that can be
    # near 0, is compared to an absolute tolerance. The penalty, (||grad|| - 1)^2 with ||grad|| near 1, can be as
    # small as 3e-5: the rounding of the gradient's multi-threaded reductions, which differs from run to run, moves
    # it by up to about 1% (seen: 0.5%).
    np.testing.assert_allclose([shifted["d_loss"], shifted["w_distance"]], [losses["d_loss"], losses["w_distance"]],
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(shifted["gp"], losses["gp"], rtol=0.02, atol=1e-7)


def test_a_step_takes_critic_steps_critic_updates_on_disjoint_real_images_then_one_generator_update():
    model = build("wgan_gp", critic_steps=5)
    seen = []
    original = model.d_losses

    def spy(part, training=False, **shared):
        seen.append(part[0])
        return original(part, training, **shared)

    model.d_losses = spy
    model.train_step(batch(model, n=20))
    assert len(seen) == 5 and all(x.shape[0] == 4 for x in seen)  # 20 real images, 4 per critic step
    stacked = np.concatenate([x.numpy().reshape(4, -1) for x in seen])
    assert len(np.unique(stacked, axis=0)) == 20
    optimizers = model.named_optimizers()
    assert int(optimizers["d_optimizer"].iterations) == 5 and int(optimizers["optimizer"].iterations) == 1


def test_samples_are_images_in_the_unit_range():
    model = build("wgan_gp")
    images = model.sample(tf.random.normal((3, 8), seed=1)).numpy()
    assert images.shape == (3, 28, 28, 1) and 0.0 <= images.min() and images.max() <= 1.0
    assert registry.get("wgan_gp").counterpart == "dcgan"
