"""The Python API: tfgen.train(model, **settings) -> Run, tfgen.load(run_dir) -> Run."""

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tfgen
from tfgen import classifier as classifier_lib
from tfgen.commands import main as cli
from tfgen.commands.evaluate import main as evaluate_cli

from conftest import REPO, make_run, train_env


@pytest.fixture(scope="module")
def run(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("api") / "cvae"
    return tfgen.train("cvae", epochs=2, batch_size=64, latent_dim=4, seed=3, data_dir=str(data_dir), out=str(out),
                       verbose=0)


def snapshot(folder):
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_train_returns_the_finished_run(run, data_dir):
    assert isinstance(run, tfgen.Run)
    saved = json.loads((run.path / "config.json").read_text())["config"]
    assert run.config == saved and run.config["model"] == "cvae" and run.config["data_dir"] == str(data_dir)
    header = (run.path / "metrics.csv").read_text().splitlines()[0].split(",")
    assert [list(row) for row in run.metrics] == [header, header]
    assert [row["epoch"] for row in run.metrics] == [1, 2]
    assert all(isinstance(v, float) for row in run.metrics for k, v in row.items() if k != "epoch")
    assert run.epochs == 2 and run.model.latent_dim == 4


def test_load_reads_the_run_and_never_changes_it(run):
    before = snapshot(run.path)
    loaded = tfgen.load(run.path)
    assert loaded.config == run.config and loaded.metrics == run.metrics and loaded.epochs == 2
    loaded.sample(4)
    loaded.encode(loaded.sample(4))
    assert snapshot(run.path) == before


def test_sample_is_determined_by_the_seed(run):
    a, b, c = run.sample(6, seed=1), tfgen.load(run.path).sample(6, seed=1), run.sample(6, seed=2)
    assert a.shape == (6, 28, 28, 1) and a.dtype == np.float32 and 0.0 <= a.min() and a.max() <= 1.0
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    with pytest.raises(ValueError, match="model 'cvae' takes no labels"):
        run.sample(2, labels=[0, 1])


def test_encode_gives_the_posterior_mean_of_images_as_sample_returns_them_or_as_uint8(run):
    images = run.sample(5, seed=4)
    codes = run.encode(images)
    assert codes.shape == (5, 4)
    binarized = (images >= 0.5).astype(np.float32)  # the cvae reads binarized images
    np.testing.assert_allclose(codes, run.model.encode(binarized)[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(run.encode(np.round(images[..., 0] * 255).astype(np.uint8)), codes, atol=1e-6)


def test_a_conditional_model_samples_the_labels_asked_for(tmp_path, data_dir):
    run = tfgen.load(make_run(tmp_path / "run", "cond_vae", latent_dim=4, data_dir=str(data_dir)))
    z_same = run.sample(3, labels=[2, 2, 2], seed=0)
    assert not np.allclose(run.sample(3, labels=[2, 5, 9], seed=0)[1:], z_same[1:])
    np.testing.assert_array_equal(run.sample(10, seed=0), run.sample(10, labels=np.arange(10), seed=0))
    with pytest.raises(ValueError, match="conditional: pass the images' labels"):
        run.encode(z_same)
    assert run.encode(z_same, labels=[2, 2, 2]).shape == (3, 4)


@pytest.fixture(scope="module")
def conditional(tmp_path_factory, data_dir):
    return tfgen.load(make_run(tmp_path_factory.mktemp("api") / "cond_vae", "cond_vae", latent_dim=4,
                               data_dir=str(data_dir)))


@pytest.mark.parametrize("call, message", [
    (lambda run: run.sample(0), "n must be a whole number from 1 to 1,369,568 (outputs of shape (28, 28, 1) that "
                                "fit in 4 GiB; ask in parts for more); got 0"),
    (lambda run: run.sample(-1), "n must be a whole number from 1 to"),
    (lambda run: run.sample(10**9), "got 1000000000"),
    (lambda run: run.sample(2.5), "got 2.5"),
    (lambda run: run.sample(4, seed=-1), "seed must be a whole number from 0 to 4294967295; got -1"),
    (lambda run: run.sample(4, labels=[10, 11, -1, 0]), "labels must be classes: whole numbers from 0 to 9; got 10"),
    (lambda run: run.sample(2, labels=[0.5, 1.5]), "labels must be classes: whole numbers from 0 to 9; got 0.5"),
    (lambda run: run.sample(4, labels=[0, 1]), "labels must hold one class for each of the 4 outputs, shape (4,); "
                                               "got shape (2,)"),
    (lambda run: run.generate(np.full((2, 4), np.nan)), "z must be finite (no NaN or infinity)"),
    (lambda run: run.generate(np.zeros((2, 3))), "z must have shape (N, 4), N at least 1; got shape (2, 3)"),
    (lambda run: run.encode(np.zeros((0, 28, 28, 1)), labels=[]),
     "images must have shape (N, 28, 28, 1), N at least 1 (the run's images); got shape (0, 28, 28, 1)"),
    (lambda run: run.encode(np.full((1, 28, 28, 1), np.nan), labels=[0]),
     "images must be uint8 pixels or floats in [0, 1], with no NaN or infinity"),
    (lambda run: run.encode(np.zeros((1, 14, 14)), labels=[0]), "got shape (1, 14, 14)"),
    (lambda run: run.decode(np.zeros((1, 4)), labels=np.full((1, 10), np.inf)), "finite rows of class weights"),
])
def test_a_runs_methods_refuse_what_they_cannot_honour_naming_the_argument(conditional, call, message):
    with pytest.raises(ValueError) as raised:
        call(conditional)
    assert message in str(raised.value)


def test_train_refuses_a_dataset_that_is_not_a_name_or_a_path(tmp_path):
    with pytest.raises(ValueError, match="--dataset must be of type str; got 123"):
        tfgen.train("cvae", dataset=123, out=str(tmp_path / "run"), verbose=0)


def test_evaluate_gives_what_the_command_writes(run, tmp_path, monkeypatch, data_dir, capsys):
    monkeypatch.setenv(classifier_lib.CACHE_ENV, str(tmp_path))
    classifier_lib.train(tfgen.load(run.path).dataset(), epochs=1, verbose=0)
    result = tfgen.load(run.path).evaluate(num_samples=32, k=2)
    assert evaluate_cli([str(run.path), "--num-samples", "32", "--k", "2"]) == 0
    written = json.loads((run.path / "evaluation.json").read_text())
    assert json.loads(json.dumps(result)) == written
    assert result["likelihood"]["k"] == 2 and result["samples"]["num_samples"] == 32
    assert "| samples scored (and real test images) | 32 |" in capsys.readouterr().out
    more = tfgen.load(run.path).evaluate(num_samples=500, k=2)  # more than the 64 test images there are
    assert more["samples"]["num_samples"] == 64
    assert "--num-samples 500 is more than the 64 real test images of mnist: scoring 64 samples against 64 test " \
        "images" in capsys.readouterr().err


@pytest.mark.parametrize("settings, flags, message", [
    ({"epochs": 0}, ["--epochs", "0"], "--epochs must be a positive integer; got 0"),
    ({"lr": float("nan")}, ["--lr", "nan"], "--lr must be a positive, finite number; got nan"),
    ({"dataset": "cifar"}, ["--dataset", "cifar"], "unknown dataset 'cifar'; choose one of: mnist"),
    ({"fake_draw": "onehot"}, ["--option", "fake_draw=onehot"], "model 'cvae' has no option 'fake_draw'"),
    ({"resume": True, "overwrite": True}, ["--resume", "--overwrite"], "--resume and --overwrite exclude each other"),
])
def test_bad_settings_raise_value_error_with_the_command_lines_message(tmp_path, data_dir, capsys, settings, flags,
                                                                        message):
    out = tmp_path / "run"
    with pytest.raises(ValueError) as raised:
        tfgen.train("cvae", data_dir=str(data_dir), out=str(out), verbose=0, **settings)
    assert message in str(raised.value)
    assert cli(["cvae", "--data-dir", str(data_dir), "--out", str(out), *flags]) == 2
    assert capsys.readouterr().err.strip() == f"tfgen: error: {raised.value}"
    assert not out.exists()


def test_load_refuses_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(ValueError, match="is not a tfgen run directory"):
        tfgen.load(tmp_path)


def readme_example() -> str:
    text = (REPO / "README.md").read_text()
    section = text.split("## From Python", 1)[1]
    return textwrap.dedent(section.split("```python", 1)[1].split("```", 1)[0])


@pytest.mark.slow
def test_the_readme_example_runs_in_a_plain_python_process(tmp_path, data_dir):
    code = readme_example()
    assert "tfgen.train(" in code and "tfgen.load(" in code
    env = train_env(TFGEN_DATA_DIR=str(data_dir), TFGEN_CACHE_DIR=str(tmp_path / "cache"))
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "runs").is_dir() and not os.path.exists(REPO / "runs" / "from-python")


def test_options_are_given_apart_from_the_settings_or_as_plain_keywords(tmp_path, data_dir, monkeypatch):
    from tfgen import training

    seen = []
    monkeypatch.setattr(training, "run", lambda config, **kwargs: seen.append(config))
    common = {"data_dir": str(data_dir), "out": str(tmp_path / "run"), "verbose": 0}
    tfgen.train("cvae", options={"filters": 16}, **common)
    tfgen.train("cvae", filters=16, **common)
    assert seen[0].options == seen[1].options == {"filters": 16, "likelihood": "auto"}
    with pytest.raises(ValueError, match="option 'filters' is given twice"):
        tfgen.train("cvae", options={"filters": 16}, filters=16, **common)
    with pytest.raises(ValueError, match="model 'cvae' has no option 'epochz'; its options: filters"):
        tfgen.train("cvae", epochz=3, **common)


def test_the_train_docstring_names_every_setting():
    from tfgen.settings import NAMES

    text = " ".join(tfgen.train.__doc__.split())
    assert all(f"``{name}``" in text for name in NAMES if name != "options")
    assert "options:" in text


def test_a_model_whose_option_is_named_as_a_setting_is_refused_at_registration():
    from typing import Annotated

    from tfgen.models.base import GenerativeModel
    from tfgen.options import Range
    from tfgen.registry import register

    class Clash(GenerativeModel):
        def __init__(self, latent_dim: int = 2, learning_rate: float = 1e-3, seed: int | None = None,
                     epochs: Annotated[int, Range(1, 10)] = 3, **kwargs):
            super().__init__(latent_dim=latent_dim, learning_rate=learning_rate, seed=seed, **kwargs)

    with pytest.raises(TypeError, match="model 'test_api' has an option named 'epochs', which is a run setting"):
        register(Clash)


def test_the_library_prints_no_tensorflow_start_up_lines(tmp_path, data_dir):
    """A notebook user sees only tfgen's own lines (the commands were quiet already)."""
    run = make_run(tmp_path / "run", "cvae", data_dir=str(data_dir))
    env = {k: v for k, v in train_env().items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    code = f"import tfgen; print(tfgen.load({str(run)!r}).sample(2).shape)"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout == "(2, 28, 28, 1)\n"
    assert result.stderr == ""
