"""beta_vae: the vae with a weighted KL term."""

import numpy as np
import pytest

import tfgen
from tfgen import config, registry
from tfgen.rundir import read_metrics

from conftest import build_model as build
from conftest import model_batch as batch


def test_beta_defaults_to_4_and_is_a_typed_option():
    assert config.model_options("beta_vae") == {"hidden": 512, "beta": 4.0, "likelihood": "auto"}
    assert config.check_options("beta_vae", {"beta": "0.5"}) == {"beta": 0.5}
    with pytest.raises(ValueError, match="--option beta='-1' is not allowed; it takes a finite number at least 0"):
        config.check_options("beta_vae", {"beta": "-1"})
    assert config.model_defaults("beta_vae") == config.model_defaults("vae")


def test_loss_is_squared_error_plus_beta_times_kl():
    model = build("beta_vae", beta=4.0)
    losses = {k: float(v) for k, v in model.compute_losses(batch(model)).items()}
    assert losses["kl"] > 0
    np.testing.assert_allclose(losses["loss"], losses["reconstruction"] + 4.0 * losses["kl"], rtol=1e-6)


def test_beta_1_steps_exactly_as_the_vae_from_the_same_weights():
    import keras
    import tensorflow as tf

    models = []
    for name, options in (("vae", {}), ("beta_vae", {"beta": 1.0})):
        keras.utils.set_random_seed(2)  # the same initial weights
        models.append(build(name, seed=2, **options))
    data = batch(models[0], n=16)
    for _ in range(2):
        logs = [{k: float(v) for k, v in tf.function(m.train_step)(data).items()} for m in models]
        assert logs[0] == logs[1]
    for a, b in zip(models[0].get_weights(), models[1].get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow  # trains twice
def test_beta_1_trains_exactly_as_the_vae_for_the_same_seed(tmp_path, data_dir):
    settings = {"epochs": 2, "train_size": 128, "latent_dim": 4, "seed": 3, "data_dir": str(data_dir), "verbose": 0}
    vae = tfgen.train("vae", out=str(tmp_path / "vae"), **settings)
    beta = tfgen.train("beta_vae", out=str(tmp_path / "beta"), beta=1.0, **settings)
    timing = ("seconds", "images_per_s")
    rows = [[{k: v for k, v in r.items() if k not in timing} for r in read_metrics(run.path)] for run in (vae, beta)]
    assert rows[0] == rows[1] and len(rows[0]) == 2
    np.testing.assert_array_equal(vae.sample(8, seed=1), beta.sample(8, seed=1))
    assert registry.get("beta_vae").loss_names == registry.get("vae").loss_names
