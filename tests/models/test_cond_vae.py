"""cond_vae: the label-conditioned MLP VAE."""

import numpy as np
import tensorflow as tf


from conftest import build_model as build


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
