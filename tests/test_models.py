"""The model contract, checked for every registered model."""

import numpy as np
import pytest
import tensorflow as tf

from tfgen import config, data, registry
from tfgen.data import to_float
from tfgen.models.base import AdversarialModel

from conftest import make_arrays

MODELS = registry.names()
IMAGE_MODELS = [n for n in MODELS if registry.get(n).data_kind == "images"]


def build(name, latent_dim=8, seed=1):
    model = registry.get(name)(latent_dim=latent_dim, learning_rate=1e-3, seed=seed)
    model.compile()
    return model


def batch(model, n=8):
    if model.data_kind == "points":
        ds = data.make_points("ring", seed=0, num_train=n, num_test=1)
        return tf.constant(ds.x_train), tf.constant(ds.y_train.astype(np.int32))
    arrays = make_arrays(num_train=n, num_test=1)
    return tf.constant(to_float(arrays["x_train"], model.input_range)), tf.constant(arrays["y_train"].astype(np.int32))


def body(net, activation="linear"):
    """The network's layers before its output layer, checked to be tfgen.precision.float32_output(activation)."""
    *layers, out = net.layers
    assert type(out).__name__ == "Activation" and out.dtype_policy.name == "float32"
    assert out.activation.__name__ == activation
    return layers


def test_registry_lists_the_tutorial_cvae():
    assert "cvae" in MODELS


def test_unknown_model_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown model 'nope'; choose one of: .*cvae"):
        registry.get("nope")


def sample_args(model, n=5):
    z = tf.random.normal((n, model.latent_dim), seed=3)
    return (z, tf.range(n) % 10) if model.conditional else (z,)


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_sample_is_in_unit_range_with_image_shape_and_deterministic(name):
    model = build(name)
    args = sample_args(model)
    images = model.sample(*args).numpy()
    assert images.shape == (5, 28, 28, 1)
    assert images.min() >= 0.0 and images.max() <= 1.0
    np.testing.assert_array_equal(images, model.sample(*args).numpy())


@pytest.mark.parametrize("name", [n for n in MODELS if hasattr(registry.get(n), "latent_mean")])
def test_encoders_give_a_code_per_image_and_reconstruct_in_unit_range(name):
    model = build(name)
    images, labels = batch(model, n=6)
    assert model.latent_mean(images, labels).shape == (6, 8)
    recon = model.reconstruct(images, labels).numpy()
    assert recon.shape == (6, 28, 28, 1) and recon.min() >= 0.0 and recon.max() <= 1.0
    outputs = model.encode_outputs(images, labels)
    assert all(v.shape == (6, 8) for v in outputs.values())


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
    if model.data_kind == "points":
        assert model.sample(**a).shape == (len(a["z"]), 2)
        return
    rows, cols = model.grid_shape
    assert a["z"].shape == (rows * cols, 8)
    assert model.sample(**a).shape == (rows * cols, 28, 28, 1)
    if model.conditional:  # one row per digit, the same codes in every row
        assert a["labels"].tolist() == [d for d in range(10) for _ in range(cols)]
        np.testing.assert_array_equal(a["z"][:cols], a["z"][cols : 2 * cols])


@pytest.mark.parametrize("name", MODELS)
def test_model_defaults_are_valid_cli_defaults(name):
    defaults = config.model_defaults(name)
    assert {"epochs", "batch_size", "latent_dim", "lr"} <= set(defaults) <= {"epochs", "batch_size", "latent_dim",
                                                                           "lr", "dataset"}
    config.resolve(name, {})  # validates


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


def test_mlp_vae_architecture_matches_the_reference():
    model = build("vae", latent_dim=50)
    assert [layer.units for layer in model.encoder.layers] == [512, 256]
    assert model.mean_head.units == model.logvar_head.units == 50
    dense = [layer for layer in body(model.decoder, "sigmoid") if hasattr(layer, "units")]
    assert [layer.units for layer in dense] == [256, 512, 784]
    assert type(model.optimizer).__name__ == "AdamW" and model.optimizer.weight_decay == 0.01
    assert model.grid_shape == (8, 8) and model.input_range == "unit"


def test_vae_loss_is_squared_error_plus_kl():
    model = build("vae")
    losses = model.compute_losses(batch(model))
    np.testing.assert_allclose(float(losses["loss"]), float(losses["reconstruction"]) + float(losses["kl"]), rtol=1e-6)
    assert float(losses["kl"]) >= 0.0


def test_cond_vae_uses_the_label():
    model = build("cond_vae")
    assert model.encoder.layers[0].kernel.shape[0] == 784 + 10
    assert model.decoder.layers[0].kernel.shape[0] == 8 + 10
    z = tf.zeros((2, 8))
    a, b = model.sample(z, tf.constant([1, 1])), model.sample(z, tf.constant([1, 7]))
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.allclose(a[1], b[1])
    # A blend of the one-hots of 1 and 7 decodes between the two digits: from 7's image (t = 0) to 1's (t = 1),
    # each step closer to 1's and further from 7's.
    one, seven = a[1].numpy(), b[1].numpy()
    onehots = np.eye(10, dtype=np.float32)
    t = np.linspace(0.0, 1.0, 5, dtype=np.float32)[:, None]
    blends = model.sample(tf.zeros((5, 8)), tf.constant(t * onehots[1] + (1 - t) * onehots[7])).numpy()
    np.testing.assert_allclose(blends[0], seven, atol=1e-6)
    np.testing.assert_allclose(blends[-1], one, atol=1e-6)
    to_one = [np.abs(x - one).sum() for x in blends]
    to_seven = [np.abs(x - seven).sum() for x in blends]
    assert all(np.diff(to_one) < 0) and all(np.diff(to_seven) > 0)


def test_conv_vae_architecture_and_log_std_head():
    model = build("conv_vae", latent_dim=2)
    shapes = [tuple(layer.output.shape[1:]) for layer in model.encoder.layers]
    assert shapes[:3] == [(14, 14, 16), (14, 14, 16), (14, 14, 16)]
    assert shapes[-1] == (32 * 7 * 7,)
    assert [type(layer).__name__ for layer in model.encoder.layers].count("BatchNormalization") == 3
    x = batch(model)[0]
    _, logvar = model.encode(x)
    log_std = model.log_std_head(model.encoder(x))
    np.testing.assert_allclose(logvar.numpy(), 2.0 * log_std.numpy(), rtol=1e-6)
    assert config.model_defaults("conv_vae")["latent_dim"] == 2


def test_noise_vae_loss_is_squared_error_plus_batch_code_norm_over_batch_size():
    model = build("noise_vae")
    x, labels = batch(model, n=4)
    h, logvar = model.encode(x)
    np.testing.assert_array_equal(logvar.numpy(), 0.0)  # q(z|x) = N(h, I)
    losses = model.compute_losses((x, labels), training=True)
    np.testing.assert_allclose(float(losses["loss"]), float(losses["reconstruction"]) + float(losses["code_norm"]),
                               rtol=1e-6)
    # sqrt(sum (h + eps)^2) / 4 with eps ~ N(0, I) over 4 x 8 values: about sqrt(|h|^2 + 32) / 4
    expected = np.sqrt(np.sum(h.numpy() ** 2) + 32) / 4
    assert 0.5 * expected < float(losses["code_norm"]) < 1.5 * expected


def test_ae_fits_a_gaussian_to_its_codes_and_samples_from_it():
    model = build("ae")
    x, labels = batch(model, n=32)
    m = model.momentum
    mean, std = np.zeros(8, np.float32), np.ones(8, np.float32)  # the statistics start at N(0, I)
    for _ in range(3):
        code = model.encode(x, training=True).numpy()  # the codes this step sees, before it moves the encoder
        mean, std = m * mean + (1 - m) * code.mean(axis=0), m * std + (1 - m) * code.std(axis=0)
        model.train_step((x, labels))
    # Running averages (momentum m) of each step's batch mean and standard deviation of the codes.
    np.testing.assert_allclose(model.code_mean.numpy(), mean, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(model.code_std.numpy(), std, rtol=1e-4, atol=1e-6)
    z = tf.ones((1, 8))
    np.testing.assert_allclose(model.sample(z).numpy(),
                               model.decode(model.code_mean[None] + model.code_std[None]).numpy(), atol=1e-6)
    assert set(model.encode_outputs(x)) == {"code"}
    model.test_step((x, labels))  # evaluation does not move the statistics
    before = model.code_mean.numpy().copy()
    model.test_step((x, labels))
    np.testing.assert_array_equal(before, model.code_mean.numpy())


def test_gan_architecture_and_defaults_match_the_reference():
    model = build("gan", latent_dim=32)
    assert [layer.units for layer in body(model.generator)] == [128, 2]
    assert [layer.units for layer in body(model.discriminator)] == [128, 1]
    assert config.model_defaults("gan") == {"epochs": 100, "batch_size": 128, "dataset": "ring", "latent_dim": 32,
                                            "lr": 1e-3}
    assert model.sample(tf.zeros((3, 32))).shape == (3, 2)
    p = model.discriminate(tf.zeros((4, 2))).numpy()
    assert p.shape == (4,) and np.all((p > 0) & (p < 1))


ADVERSARIAL = [n for n in MODELS if issubclass(registry.get(n), AdversarialModel)]


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_adversarial_phases_change_only_their_own_network(name):
    model = build(name)
    data = batch(model, n=16)
    g_before = [w.numpy().copy() for w in model.generator.trainable_weights]
    d_before = [w.numpy().copy() for w in model.discriminator.trainable_weights]
    assert np.isfinite(float(model.d_step(data)))
    assert all(np.array_equal(b, w.numpy()) for b, w in zip(g_before, model.generator.trainable_weights))
    assert all(not np.array_equal(b, w.numpy()) for b, w in zip(d_before, model.discriminator.trainable_weights))
    d_after = [w.numpy().copy() for w in model.discriminator.trainable_weights]
    assert np.isfinite(float(model.g_step(data)))
    assert all(np.array_equal(b, w.numpy()) for b, w in zip(d_after, model.discriminator.trainable_weights))
    assert all(not np.array_equal(b, w.numpy()) for b, w in zip(g_before, model.generator.trainable_weights))
    assert int(model.d_optimizer.iterations) == 1 and int(model.optimizer.iterations) == 1
    # Each optimizer holds slots for its own network only.
    assert len(model.optimizer.variables) == 2 + 2 * len(model.generator.trainable_weights)
    assert len(model.d_optimizer.variables) == 2 + 2 * len(model.discriminator.trainable_weights)


def test_gan_losses_are_the_reference_cross_entropies():
    model = build("gan")
    real = batch(model, n=8)[0]
    # With D's output layer zeroed, D(x) = 1/2 everywhere: D's loss is 2 log 2 and G's log 2.
    out = body(model.discriminator)[-1]
    out.kernel.assign(tf.zeros_like(out.kernel))
    out.bias.assign(tf.zeros_like(out.bias))
    np.testing.assert_allclose(float(model.d_loss((real, None))), 2 * np.log(2), rtol=1e-6)
    np.testing.assert_allclose(float(model.g_loss((real, None))), np.log(2), rtol=1e-6)


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
    assert model.optimizer.beta_1 == model.d_optimizer.beta_1 == 0.5
    assert model.input_range == "tanh" and model.grid_shape == (10, 10)


def test_cgan_samples_follow_the_label_and_stay_in_unit_range():
    model = build("cgan")
    z = tf.random.normal((2, 8), seed=5)
    a, b = model.sample(z, tf.constant([3, 3])).numpy(), model.sample(z, tf.constant([3, 8])).numpy()
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.allclose(a[1], b[1])
    assert a.min() >= 0.0 and a.max() <= 1.0



def weights(variables):
    return [v.numpy().copy() for v in variables]


def changed(before, variables):
    return [not np.array_equal(b, v.numpy()) for b, v in zip(before, variables)]


def assert_one_step_moves_both_networks_once(model):
    data = batch(model, n=16)
    g, d = weights(model.generator.trainable_variables), weights(model.discriminator.trainable_variables)
    logs = model.train_step(data)
    assert np.isfinite(float(logs["d_loss"])) and np.isfinite(float(logs["g_loss"]))
    assert all(changed(g, model.generator.trainable_variables))
    assert all(changed(d, model.discriminator.trainable_variables))
    assert int(model.d_optimizer.iterations) == 1 and int(model.optimizer.iterations) == 1


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_one_training_step_moves_both_networks_once(name):
    assert_one_step_moves_both_networks_once(build(name))


def test_only_the_toy_gan_draws_fresh_noise_for_g():
    # The toy GAN's reference draws new z for G's update; cgan's and the DCGAN tutorial's reuse the fakes.
    assert [n for n in ADVERSARIAL if not registry.get(n).reuse_fakes] == ["gan"]


def test_dcgan_architecture_matches_the_reference_and_the_tutorial():
    model = build("dcgan", latent_dim=100)
    d_kinds = [type(layer).__name__ for layer in body(model.discriminator)]
    assert d_kinds == ["ZeroPadding2D", "Conv2D", "LeakyReLU",
                       "ZeroPadding2D", "Conv2D", "BatchNormalization", "LeakyReLU",
                       "ZeroPadding2D", "Conv2D", "BatchNormalization", "LeakyReLU",
                       "Conv2D", "BatchNormalization", "LeakyReLU", "Flatten", "Dense"]
    convs = [layer for layer in model.discriminator.layers if type(layer).__name__ == "Conv2D"]
    assert [(c.filters, c.kernel_size, c.strides) for c in convs] == [
        (16, (3, 3), (2, 2)), (32, (3, 3), (2, 2)), (64, (3, 3), (2, 2)), (128, (4, 4), (1, 1))]
    # PyTorch's padding=1: 28 -> 14 -> 7 -> 4, and the 4x4 kernel sees the whole map.
    x, sizes = tf.zeros((1, 28, 28, 1)), []
    for layer in body(model.discriminator)[:-2]:
        x = layer(x)
        if layer in convs:
            sizes.append(tuple(x.shape[1:3]))
    assert sizes == [(14, 14), (7, 7), (4, 4), (1, 1)]
    g_kinds = [type(layer).__name__ for layer in body(model.generator, "tanh")]
    assert g_kinds == ["Dense", "BatchNormalization", "LeakyReLU", "Reshape",
                       "Conv2DTranspose", "BatchNormalization", "LeakyReLU",
                       "Conv2DTranspose", "BatchNormalization", "LeakyReLU", "Conv2DTranspose"]
    assert model.generator.layers[0].units == 7 * 7 * 256
    assert not any(getattr(layer, "use_bias", False) for layer in model.generator.layers)
    assert model.generator(tf.zeros((2, 100))).shape == (2, 28, 28, 1)
    assert config.model_defaults("dcgan") == {"epochs": 25, "batch_size": 256, "latent_dim": 100, "lr": 1e-4}
    assert model.optimizer.beta_1 == model.d_optimizer.beta_1 == 0.9


def test_cvae_gan_architecture_matches_the_reference():
    model = build("cvae_gan", latent_dim=2)
    assert model.decoder.layers[0].kernel.shape[0] == 2 + 10  # concat(z, one-hot label)
    for net, outputs in ((model.discriminator, 1), (model.classifier, 10)):
        kinds = [type(layer).__name__ for layer in body(net)]
        assert kinds == ["Conv2D", "LeakyReLU", "MaxPooling2D", "Conv2D", "LeakyReLU", "MaxPooling2D", "Flatten",
                         "Dense", "LeakyReLU", "Dense"]
        assert [layer.units for layer in net.layers if hasattr(layer, "units")] == [1024, outputs]
    assert config.model_defaults("cvae_gan") == {"epochs": 10, "batch_size": 128, "latent_dim": 2, "lr": 1e-4}
    assert config.model_options("cvae_gan") == {"fake_draw": "onehot", "recon_weighting": "sum"}


@pytest.mark.parametrize("fake_draw", ["onehot", "reference"])
def test_cvae_gan_steps_change_only_their_own_network(fake_draw):
    model = registry.get("cvae_gan")(latent_dim=2, learning_rate=1e-3, seed=1, fake_draw=fake_draw)
    model.compile()
    data = batch(model, n=16)
    nets = {"c": model.classifier.trainable_variables, "d": model.discriminator.trainable_variables,
            "vae": model.vae_variables()}
    assert sum(len(v) for v in nets.values()) == len(model.trainable_variables)
    for step, moved in ((model.c_step, "c"), (model.d_step, "d"), (model.vae_step, "vae")):
        before = {k: weights(v) for k, v in nets.items()}
        out = step(data)
        assert all(np.isfinite(float(x)) for x in (out.values() if isinstance(out, dict) else [out]))
        for k, v in nets.items():
            assert all(changed(before[k], v)) if k == moved else not any(changed(before[k], v)), (step, k)
    for optimizer, variables in model.optimizer_variables():
        assert int(optimizer.iterations) == 1
        assert len(optimizer.variables) == 2 + 2 * len(variables)


@pytest.mark.parametrize("weighting", ["sum", "reference"])
def test_cvae_gan_reconstruction_weighting(weighting):
    model = registry.get("cvae_gan")(latent_dim=2, learning_rate=1e-3, seed=1, recon_weighting=weighting)
    data = batch(model, n=8)
    for net in (model.discriminator, model.classifier):  # zeroed output layers: each BCE term is log 2
        out = body(net)[-1]
        out.kernel.assign(tf.zeros_like(out.kernel))
        out.bias.assign(tf.zeros_like(out.bias))
    losses = {k: float(v) for k, v in model.vae_losses(data).items()}
    rec, kl = losses["reconstruction"], losses["kl"]
    expected = rec + kl if weighting == "sum" else rec / 784 + kl * 8  # MSELoss mean + KL summed over the batch
    np.testing.assert_allclose(losses["vae_loss"], expected + 2 * np.log(2), rtol=1e-5)


def test_cvae_gan_fake_codes_follow_the_option():
    onehot = registry.get("cvae_gan")(latent_dim=2, learning_rate=1e-3, seed=1).fake_codes(64).numpy()
    assert onehot.shape == (64, 12)
    assert set(np.unique(onehot[:, 2:])) == {0.0, 1.0} and np.all(onehot[:, 2:].sum(axis=1) == 1)
    assert len(np.unique(onehot[:, 2:].argmax(axis=1))) > 5  # labels drawn uniformly
    reference = registry.get("cvae_gan")(latent_dim=2, learning_rate=1e-3, seed=1, fake_draw="reference")
    codes = reference.fake_codes(64).numpy()  # every dimension N(0, I), label dims included
    assert codes.shape == (64, 12) and abs(codes[:, 2:].mean()) < 0.2 and 0.8 < codes[:, 2:].std() < 1.2


def test_packed_gan_discriminator_judges_packs_of_samples():
    model = registry.get("gan")(latent_dim=32, learning_rate=1e-3, seed=1, pack="2")
    model.compile()
    assert model.discriminator.layers[0].kernel.shape[0] == 4  # two 2-D points per decision
    points = tf.random.normal((11, 2), seed=2)
    assert model.critic(points, None).shape == (5, 1)  # the 11th point fills no pack
    assert model.discriminate(points).shape == (11,)  # the surface: each point packed with itself
    assert_one_step_moves_both_networks_once(model)
    assert config.model_options("gan") == {"pack": "1"}  # the reference's D by default
