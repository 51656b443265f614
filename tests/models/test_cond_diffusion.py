"""cond_diffusion: label dropping in training, classifier-free guidance in sampling, labels checked in export."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import build_model as build
from conftest import model_batch as batch


def test_a_dropped_label_is_the_no_label_class_in_the_share_uncond(monkeypatch):
    model = build("cond_diffusion", uncond=0.25)
    seen = []
    monkeypatch.setattr(model, "prediction_of", lambda network, x_t, t, labels=None, training=False: (
        seen.append(labels.numpy()), tf.zeros_like(x_t))[1])
    x, _ = batch(model, n=8)
    for _ in range(50):
        model.compute_losses((x, tf.fill([8], 3)), training=True)
    labels = np.concatenate(seen)
    assert set(labels.tolist()) == {3, 10}  # the label, or "no label" (class 10 of 10)
    assert 0.15 < np.mean(labels == 10) < 0.35
    seen.clear()
    build_all = build("cond_diffusion", uncond=1.0)
    monkeypatch.setattr(build_all, "prediction_of", model.prediction_of)
    build_all.compute_losses((x, tf.fill([8], 3)), training=True)
    assert (seen[0] == 10).all()


def test_guidance_mixes_the_predictions_with_and_without_the_label():
    model = build("cond_diffusion")
    model.train_step(batch(model))
    model.ema_network.set_weights(model.network.get_weights())
    x, t, labels = tf.random.normal((3, 28, 28, 1), seed=1), tf.constant([0.2, 0.5, 0.9]), tf.constant([1, 2, 3])
    cond = model.prediction_of(model.ema_network, x, t, labels).numpy()
    uncond = model.prediction_of(model.ema_network, x, t, tf.fill([3], 10)).numpy()
    np.testing.assert_allclose(model.guided(x, t, labels, 0.0).numpy(), cond, atol=1e-5)
    np.testing.assert_allclose(model.guided(x, t, labels, 2.0).numpy(), 3 * cond - 2 * uncond, atol=1e-4)


def test_its_preview_has_a_row_per_class():
    model = build("cond_diffusion")
    inputs = model.preview_inputs(1, None)
    assert inputs["z"].shape == (10 * 6, 28, 28, 1)
    assert inputs["labels"].tolist() == [c for c in range(10) for _ in range(6)]


@pytest.mark.slow  # writes and loads a SavedModel (7 s)
def test_its_export_refuses_labels_steps_and_guidance_out_of_range(tmp_path):
    from tfgen.export import export_saved_model

    model = build("cond_diffusion")
    export_saved_model(model, tmp_path / "saved_model")
    generate = tf.saved_model.load(str(tmp_path / "saved_model")).signatures["generate"]
    good = {"z": tf.zeros((1, 28, 28, 1)), "steps": tf.constant(2), "label": tf.constant([1]),
            "guidance": tf.constant(1.0)}
    assert generate(**good)["images"].shape == (1, 28, 28, 1)
    for bad, message in [({"label": [10]}, "label must be a class 0..9"),
                         ({"steps": 0}, "steps must be from 1 to 1000"),
                         ({"guidance": -1.0}, "guidance must be a finite number, at least 0")]:
        given = {**good, **{k: tf.constant(v, dtype=good[k].dtype) for k, v in bad.items()}}
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            generate(**given)
