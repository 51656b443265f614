"""ae: the plain autoencoder."""

import numpy as np
import tensorflow as tf


from conftest import build_model as build
from conftest import model_batch as batch


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
