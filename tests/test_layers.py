import numpy as np
import pytest
import tensorflow as tf

import keras
from tfgen.layers import SpectralNormalization


def largest_singular_value(kernel) -> float:
    kernel = np.asarray(kernel)
    return float(np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0])


@pytest.mark.parametrize("layer, inputs", [
    (lambda: keras.layers.Dense(5, activation="relu"), np.random.default_rng(0).normal(size=(4, 7))),
    (lambda: keras.layers.Conv2D(6, 3, strides=2, padding="same"), np.random.default_rng(1).normal(size=(2, 8, 8, 3))),
    (lambda: keras.layers.Embedding(10, 4), np.array([0, 3, 9])),
])
def test_training_calls_converge_to_the_kernel_over_its_largest_singular_value(layer, inputs):
    keras.utils.set_random_seed(0)
    wrapped = SpectralNormalization(layer())
    inputs = tf.constant(inputs, tf.int32 if inputs.dtype.kind == "i" else tf.float32)
    wrapped(inputs)
    kernel = wrapped.kernel.numpy()
    u = wrapped.u.numpy()
    wrapped(inputs, training=False)
    np.testing.assert_array_equal(wrapped.u.numpy(), u)  # read, not changed, outside training
    for _ in range(300):  # power iteration converges as (sigma_2 / sigma_1)^n
        wrapped(inputs, training=True)
    assert not np.array_equal(wrapped.u.numpy(), u)
    np.testing.assert_array_equal(wrapped.kernel.numpy(), kernel)  # the layer's own kernel is left to the optimizer
    normalized = wrapped.normalized_kernel().numpy()
    np.testing.assert_allclose(normalized, kernel / largest_singular_value(kernel), rtol=1e-4, atol=1e-6)
    assert largest_singular_value(normalized) == pytest.approx(1.0, rel=1e-4)
    # the layer's own computation with the normalised kernel, in and out of training
    inner = wrapped.layer
    if isinstance(inner, keras.layers.Embedding):
        expected = normalized[inputs.numpy()]
    else:
        inner.kernel.assign(normalized)
        expected = inner(inputs).numpy()
        inner.kernel.assign(kernel)
    np.testing.assert_allclose(wrapped(inputs, training=False).numpy(), expected, rtol=1e-4, atol=1e-5)


def test_the_gradient_reaches_the_kernel_through_sigma():
    """W / sigma(W), sigma = v W u^T with u and v held, is unchanged by scaling W, so any loss's gradient in W is
    orthogonal to W; without the gradient through sigma it is (dL/dW_sn) / sigma, which is not."""
    keras.utils.set_random_seed(0)
    wrapped = SpectralNormalization(keras.layers.Dense(3))
    x = tf.constant(np.random.default_rng(0).normal(size=(8, 4)), tf.float32)
    wrapped(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.sin(wrapped(x, training=True)))
    grad = tape.gradient(loss, wrapped.kernel).numpy()
    kernel = wrapped.kernel.numpy()
    assert np.abs(grad).max() > 1e-3
    assert abs(float(np.sum(grad * kernel))) < 1e-5 * np.abs(grad).sum() * np.abs(kernel).max()


def test_u_is_a_checkpointed_float32_weight_and_the_output_follows_the_mixed_policy(tmp_path):
    keras.utils.set_random_seed(0)
    x = tf.constant(np.random.default_rng(0).normal(size=(2, 8, 8, 3)), tf.float32)
    wrapped = SpectralNormalization(keras.layers.Conv2D(4, 3, dtype="mixed_bfloat16"), dtype="mixed_bfloat16")
    y = wrapped(x, training=True)
    assert y.dtype == tf.bfloat16 and wrapped.u.dtype == "float32"
    assert any(w is wrapped.u for w in wrapped.non_trainable_weights)
    checkpoint = tf.train.Checkpoint(layer=wrapped)
    path = checkpoint.save(str(tmp_path / "ckpt"))
    saved = wrapped.u.numpy()
    wrapped(x, training=True)
    checkpoint.restore(path)
    np.testing.assert_array_equal(wrapped.u.numpy(), saved)


@pytest.mark.parametrize("layer", [keras.layers.Conv2DTranspose(2, 3), keras.layers.BatchNormalization(),
                                   keras.layers.Conv2D(4, 3, groups=2)])
def test_it_refuses_layers_it_cannot_normalise(layer):
    with pytest.raises(TypeError, match="wraps a Dense, Conv2D .* or Embedding layer; got"):
        SpectralNormalization(layer)
