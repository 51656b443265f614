"""The SavedModel is plain TensorFlow: it loads and matches the model where tfgen cannot be imported."""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfgen import registry
from tfgen.export import export_saved_model

from conftest import SAMPLING, model_batch, sampling_args, tiny_options


# Runs in a fresh interpreter in which `import tfgen` fails; loads every export named on its command line.
LOAD_WITHOUT_TFGEN = textwrap.dedent(
    """
    import sys
    sys.modules["tfgen"] = None  # any import of tfgen now raises ImportError
    import numpy as np
    import tensorflow as tf

    for folder in sys.argv[1:]:
        loaded = tf.saved_model.load(folder + "/saved_model")
        given = np.load(folder + "/inputs.npz")
        results = {}
        for name, fn in loaded.signatures.items():
            if name in ("generate", "encode"):
                args = {key: tf.constant(given[key]) for key in fn.structured_input_signature[1]}
                for key, value in fn(**args).items():
                    results[f"{name}/{key}"] = value.numpy()
        specs = loaded.generate.concrete_functions[0].structured_input_signature[0]  # its inputs, in order
        args = [tf.constant(given[spec.name]) for spec in specs]
        results["generate_fn"] = next(iter(loaded.generate(*args).values())).numpy()
        np.savez(folder + "/out.npz", **results)
        print(folder, sorted(loaded.signatures))
    """
)


# The quick loop exports one model of each kind (encoder with and without a likelihood, conditional, GAN, points);
# the full suite every model.
QUICK = ("ae", "cgan", "cond_vae", "cvae", "gan")


@pytest.fixture(scope="module")
def exported(request, tmp_path_factory):
    """Every model this session tests after one training step, exported, then loaded back in one fresh
    interpreter without tfgen."""
    root = tmp_path_factory.mktemp("export")
    selected = {item.callspec.params["name"] for item in request.session.items
                if item.originalname == "test_saved_model_matches_the_model_without_tfgen"}
    models = {}
    for name in sorted(selected):
        model = registry.get(name)(latent_dim=6, learning_rate=1e-3, seed=0, **tiny_options(name))
        model.compile()
        data = model_batch(model, n=16)
        model.train_step(data)  # non-initial weights
        x = data[0].numpy()
        folder = root / name
        folder.mkdir()
        export_saved_model(model, folder / "saved_model")
        z = model.draw_noise(7, np.random.default_rng(0))
        label = np.arange(7, dtype=np.int32) % 10
        np.savez(folder / "inputs.npz", z=z, images=x[:7], label=label, **SAMPLING)
        models[name] = (model, folder, z, x[:7], label)
    script = root / "load.py"
    script.write_text(LOAD_WITHOUT_TFGEN)
    result = subprocess.run([sys.executable, str(script), *(str(root / name) for name in models)],
                            capture_output=True, text=True, timeout=300, cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    printed = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    return {name: (*found, printed[str(found[1])], dict(np.load(found[1] / "out.npz")))
            for name, found in models.items()}


@pytest.mark.parametrize("name", [n if n in QUICK else pytest.param(n, marks=pytest.mark.slow)
                                  for n in registry.names()])
def test_saved_model_matches_the_model_without_tfgen(exported, name):
    model, folder, z, x, label, signatures, got = exported[name]
    assert not list(folder.glob(".saved_model*"))  # written to a temporary name, then renamed
    labels = (tf.constant(label),) if model.has("conditional") else ()
    expected = model.sample(tf.constant(z), *labels, **sampling_args(model)).numpy()
    output = "points" if model.has("points") else "images"
    assert got[f"generate/{output}"].shape == expected.shape
    np.testing.assert_allclose(got[f"generate/{output}"], expected, atol=1e-5)
    np.testing.assert_allclose(got["generate_fn"], expected, atol=1e-5)
    assert ("encode" in signatures) == model.has("encoder")
    if model.has("encoder"):
        for key, value in model.encode_outputs(tf.constant(x), *labels).items():
            np.testing.assert_allclose(got[f"encode/{key}"], value.numpy(), atol=1e-5)


@pytest.mark.slow  # a subprocess that starts TensorFlow
def test_saved_model_cli_lists_generate_and_encode(tmp_path):
    model = registry.get("cvae")(latent_dim=3, learning_rate=1e-3)
    export_saved_model(model, tmp_path / "saved_model")
    cli = Path(sys.executable).with_name("saved_model_cli")
    if not cli.exists():
        pytest.skip("saved_model_cli is not installed beside this Python")
    result = subprocess.run([str(cli), "show", "--dir", str(tmp_path / "saved_model"), "--all"],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "signature_def['generate']" in result.stdout and "signature_def['encode']" in result.stdout
    assert "inputs['z']" in result.stdout and "outputs['images']" in result.stdout
    assert "inputs['images']" in result.stdout and "outputs['mean']" in result.stdout
    assert "outputs['logvar']" in result.stdout


def test_export_replaces_an_older_export(tmp_path):
    model = registry.get("cvae")(latent_dim=3, learning_rate=1e-3)
    (tmp_path / "saved_model").mkdir()
    (tmp_path / "saved_model" / "stale.txt").write_text("old")
    export_saved_model(model, tmp_path / "saved_model")
    assert (tmp_path / "saved_model" / "saved_model.pb").is_file()
    assert not (tmp_path / "saved_model" / "stale.txt").exists()


@pytest.mark.parametrize("function, inputs, message", [
    ("generate", {"z": np.zeros((2, 6)), "label": [3, 12]}, "label must be a class 0..9; got] [3 12]"),
    ("generate", {"z": np.zeros((1, 6)), "label": [-1]}, "label must be a class 0..9; got] [-1]"),
    ("generate", {"z": np.zeros((2, 5)), "label": [1, 2]}, "generate: z must have shape [N, 6]; got] [2 5]"),
    ("encode", {"images": np.zeros((2, 28, 28)), "label": [1, 2]},
     "encode: images must have shape [N, 28, 28, 1]; got] [2 28 28]"),
    ("encode", {"images": np.zeros((2, 14, 14, 1)), "label": [1, 2]},
     "encode: images must have shape [N, 28, 28, 1]; got] [2 14 14 1]"),
    ("generate", {"z": np.full((2, 6), np.nan), "label": [1, 2]}, "generate: z must be finite (no NaN or infinity)"),
    ("encode", {"images": np.full((1, 28, 28, 1), np.inf), "label": [1]}, "encode: images must be finite"),
])
def test_exported_functions_check_their_inputs_before_any_kernel_runs(exported, function, inputs, message):
    folder = exported["cond_vae"][1]
    fn = tf.saved_model.load(str(folder / "saved_model")).signatures[function]
    args = {k: tf.constant(v, tf.int32 if k == "label" else tf.float32) for k, v in inputs.items()}
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        fn(**args)
    assert message in str(raised.value)
