"""noise_vae: the poor man's VAE."""

import numpy as np


from conftest import build_model as build
from conftest import model_batch as batch


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
