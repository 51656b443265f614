"""cond_sngan: class-conditional BatchNorm in G, a projection discriminator."""

import keras
import numpy as np
import tensorflow as tf

from tfgen.layers import SpectralNormalization

from conftest import build_model as build


def embeddings(net) -> list:
    return [layer for layer in net.layers if type(layer).__name__ == "Embedding"]


def test_g_normalises_per_class_and_starts_as_the_unconditional_generator():
    model = build("cond_sngan", width=8)
    norms = [layer for layer in model.generator.layers if type(layer).__name__ == "BatchNormalization"]
    assert len(norms) == 3 and not any(n.center or n.scale for n in norms)  # the scale and offset are the class's
    assert len(embeddings(model.generator)) == 2 * len(norms)  # gamma and beta per BatchNorm
    assert not any(np.any(layer.embeddings.numpy()) for layer in embeddings(model.generator))  # scale 1, offset 0
    z = tf.random.normal((1, 8), seed=1)
    same = [model.sample(z, tf.constant([label])).numpy() for label in (0, 3)]
    np.testing.assert_array_equal(*same)  # gamma and beta start at zero: the class changes nothing yet
    for layer in embeddings(model.generator):
        layer.embeddings.assign(tf.random.normal(layer.embeddings.shape, stddev=0.5, seed=2))
    assert not np.allclose(*[model.sample(z, tf.constant([label])).numpy() for label in (0, 3)])


def test_d_adds_the_inner_product_of_the_embedded_label_with_its_features():
    model = build("cond_sngan", width=8)
    d = model.discriminator
    wrapped = {type(layer.layer).__name__: layer for layer in d.layers if isinstance(layer, SpectralNormalization)}
    flatten = next(layer for layer in d.layers if type(layer).__name__ == "Flatten")
    x, labels = tf.random.normal((3, 28, 28, 1), seed=4), tf.constant([1, 5, 5])
    phi = keras.Model(d.inputs[0], flatten.output)(x)
    embedded = wrapped["Embedding"].normalized_kernel().numpy()[labels.numpy()]
    projection = model.critic(x, labels).numpy()[:, 0] - wrapped["Dense"](phi).numpy()[:, 0]
    np.testing.assert_allclose(projection, np.sum(embedded * phi.numpy(), axis=1), rtol=1e-4, atol=1e-6)
    assert abs(projection[0] - projection[1]) > 1e-4  # the label moves the logit
