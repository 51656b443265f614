"""``--precision``: mixed-precision training keeps losses, samples and the SavedModel float32."""


import keras
import numpy as np
import pytest
import tensorflow as tf

import tfgen
from tfgen import config as config_lib
from tfgen import registry
from tfgen.config import ConfigError
from tfgen.export import export_saved_model, float32_copy

from conftest import run_train
from conftest import model_batch as batch
from conftest import sample_args, sampling_args, tiny_options

MODELS = registry.names()
# The quick loop covers a VAE, a conditional GAN and the toy GAN; the full suite covers every model.
QUICK = ("cvae", "cgan", "gan")
SOME_IN_THE_QUICK_LOOP = [pytest.param(name, marks=() if name in QUICK else pytest.mark.slow) for name in MODELS]


def mixed_model(name, precision="mixed_bfloat16"):
    cfg = config_lib.resolve(name, {"latent_dim": 6, "out": "unused", "precision": precision,
                                    "options": tiny_options(name)})
    model = cfg.make_model()
    model.compile()
    return model


def half_layers(model, dtype):
    return [layer for layer in model._flatten_layers() if layer.compute_dtype == dtype]


@pytest.mark.parametrize("name", SOME_IN_THE_QUICK_LOOP)
def test_bfloat16_step_has_finite_float32_losses_and_float32_samples(name):
    model = mixed_model(name)
    assert half_layers(model, "bfloat16"), "the networks should compute in bfloat16"
    assert all(v.dtype == "float32" for v in model.weights)  # weights stay float32
    data = batch(model, n=16)
    losses = tf.function(model.train_step)(data)
    for key, value in losses.items():
        assert value.dtype == tf.float32, key
        assert np.isfinite(value.numpy()), key
    for key, value in model.compute_losses(data).items():
        assert value.dtype == tf.float32, key
    assert model.sample(*sample_args(model)).dtype == tf.float32
    if model.has("encoder"):
        for key, value in model.encode_outputs(*data).items():
            assert value.dtype == tf.float32, key


@pytest.mark.parametrize("name", MODELS)
def test_float16_scales_every_optimizer(name):
    model = mixed_model(name, "mixed_float16")
    optimizers = list(model.named_optimizers().values())  # one per declared update, each checkpointed
    assert len(optimizers) == len(model.updates())
    assert all(isinstance(o, keras.optimizers.LossScaleOptimizer) for o in optimizers)


# float16 is emulated on a CPU (9 s for the cvae's 20 steps): out of the quick loop, where bfloat16 stands for it
@pytest.mark.slow
@pytest.mark.parametrize("name", ["cvae", "cgan"])
def test_float16_trains_with_dynamic_loss_scaling(name):
    model = mixed_model(name, "mixed_float16")
    optimizers = list(model.named_optimizers().values())
    before = [v.numpy().copy() for v in model.trainable_variables]
    # The scale starts at 2**15 and halves on each overflowing step (skipped) until the gradients fit float16.
    history = model.fit(tf.data.Dataset.from_tensors(batch(model, n=8)).repeat(20), epochs=1, verbose=0,
                        shuffle=False)  # fit shuffles arrays by default and warns that a Dataset is not
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    moved = [not np.array_equal(b, v.numpy()) for b, v in zip(before, model.trainable_variables)]
    assert sum(moved) >= len(moved) // 2  # steps were applied, not all skipped as overflows
    assert all(0 < float(o.dynamic_scale) <= 2**15 for o in optimizers)


def test_float32_is_the_default_and_changes_nothing():
    model = registry.get("cvae")(latent_dim=4, learning_rate=1e-3)
    assert model.dtype_policy.name == "float32" and not half_layers(model, "bfloat16")
    assert float32_copy(model) is model
    assert not isinstance(model.new_optimizer(model.make_optimizer), keras.optimizers.LossScaleOptimizer)


def graph_text(function) -> str:
    return str(function.graph.as_graph_def())


@pytest.mark.parametrize("name", SOME_IN_THE_QUICK_LOOP)
def test_saved_model_is_float32_whatever_the_training_precision(tmp_path, name):
    model = mixed_model(name)
    data = batch(model, n=16)
    model.train_step(data)  # non-initial weights
    export_saved_model(model, tmp_path / "saved_model")
    loaded = tf.saved_model.load(str(tmp_path / "saved_model"))
    args = sample_args(model)
    sampling = sampling_args(model)  # a diffusion model's generate also takes its steps (and guidance)
    expected = float32_copy(model).sample(*args, **sampling).numpy()
    for signature_name, fn in loaded.signatures.items():
        assert "DT_BFLOAT16" not in graph_text(fn) and "DT_HALF" not in graph_text(fn), signature_name
        for spec in fn.structured_input_signature[1].values():
            assert spec.dtype in (tf.float32, tf.int32), (signature_name, spec)
    given = {"z": args[0], "label": args[-1], **{key: tf.constant(value) for key, value in sampling.items()}}
    outputs = loaded.generate(*(given[spec.name] for spec in loaded.generate.concrete_functions[0]
                                .structured_input_signature[0]))
    for key, value in outputs.items():
        assert value.dtype == tf.float32, key
    np.testing.assert_allclose(next(iter(outputs.values())).numpy(), expected, atol=1e-5)
    # The float32 copy is the trained model: its samples match the bfloat16 ones to bfloat16 precision.
    np.testing.assert_allclose(expected, model.sample(*args, **sampling).numpy(), atol=0.1)


def test_unknown_precision_is_refused_naming_the_allowed_ones():
    with pytest.raises(ConfigError, match="unknown --precision 'fp8'; choose one of: float32, mixed_bfloat16, "
                                          "mixed_float16"):
        config_lib.resolve("cvae", {"precision": "fp8"})
    result = run_train("cvae", "--precision", "half", timeout=120)
    assert result.returncode == 2
    assert "invalid choice: 'half'" in result.stderr and "mixed_bfloat16" in result.stderr


@pytest.mark.slow  # trains twice
def test_bfloat16_run_writes_float32_outputs_and_keeps_its_precision_on_resume(tmp_path, data_dir):
    flags = {"batch_size": 64, "latent_dim": 4, "data_dir": str(data_dir), "out": str(tmp_path / "run"), "verbose": 0}
    run = tfgen.train("cvae", epochs=1, precision="mixed_bfloat16", **flags)
    assert run.config["precision"] == "mixed_bfloat16"
    assert len(run.metrics) == 1 and all(np.isfinite(v) for v in run.metrics[0].values())
    assert tfgen.load(run.path).model.dtype_policy.name == "float32"  # evaluate and explore measure in float32
    with pytest.raises(ConfigError, match="--precision float32 differs from the resumed run's "
                                          "precision='mixed_bfloat16'"):
        tfgen.train("cvae", epochs=2, resume=True, precision="float32", **flags)
    run = tfgen.train("cvae", epochs=2, resume=True, **flags)
    assert run.config["precision"] == "mixed_bfloat16"
    assert len(run.metrics) == 2
