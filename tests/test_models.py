"""The model contract, checked for every registered model (a new model file is covered the moment it exists).

Each model's own facts (its architecture, the reference's defaults) are in ``tests/models/test_NAME.py``.
"""

import inspect

import numpy as np
import pytest
import tensorflow as tf

from tfgen import config, options, registry
from tfgen.models.base import CAPABILITIES, GenerativeModel

from conftest import build_model as build
from conftest import model_batch as batch
from conftest import sample_args, tiny_options


# The quick loop checks every model but the diffusion models (2-4 s a test: tests/models/test_diffusion.py and
# test_cond_diffusion.py check their family there); the full suite checks every model.
def marked(names: list[str]) -> list:
    """``names`` as test parameters, the diffusion models' marked slow."""
    return [pytest.param(n, marks=pytest.mark.slow) if registry.get(n).has("steps") else n for n in names]


MODELS = marked(registry.names())
IMAGE_MODELS = marked([n for n in registry.names() if not registry.get(n).has("points")])


def test_registry_lists_every_model_file(tmp_path):
    from pathlib import Path

    import tfgen.models

    files = {p.stem for p in Path(tfgen.models.__path__[0]).glob("*.py")} - {"__init__", "base"}
    assert set(registry.names()) == files
    assert all(registry.get(n).registry_name == n for n in registry.names())


def test_unknown_model_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown model 'nope'; choose one of: .*cvae"):
        registry.get("nope")


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_sample_is_in_unit_range_with_image_shape_and_deterministic(name):
    model = build(name)
    args = sample_args(model)
    images = model.sample(*args).numpy()
    assert images.shape == (5, 28, 28, 1)
    assert images.min() >= 0.0 and images.max() <= 1.0
    np.testing.assert_array_equal(images, model.sample(*args).numpy())


@pytest.mark.parametrize("name", [n for n in registry.names() if registry.get(n).has("encoder")])
def test_encoders_give_a_code_per_image_and_reconstruct_in_unit_range(name):
    model = build(name)
    images, labels = batch(model, n=6)
    assert model.latent_mean(images, labels).shape == (6, 8)
    recon = model.reconstruct(images, labels).numpy()
    assert recon.shape == (6, 28, 28, 1) and recon.min() >= 0.0 and recon.max() <= 1.0
    outputs = model.encode_outputs(images, labels)
    assert all(v.shape == (6, 8) for v in outputs.values())


@pytest.mark.parametrize("name", MODELS)
def test_a_models_value_ranges_are_of_the_one_type_on_grey_and_colour(name):
    from tfgen.data import INPUT_RANGES

    cls = registry.get(name)
    shapes = [{}] if cls.has("points") else [{"image_shape": (28, 28, c)} for c in (1, 3)]
    for shape in shapes:
        model = cls(latent_dim=4, learning_rate=1e-3, **shape, **tiny_options(name))
        ranges = [model.input_range] + ([model.likelihood_range] if model.has("likelihood") else [])
        assert set(ranges) <= set(INPUT_RANGES), ranges


@pytest.mark.parametrize("name", MODELS)
def test_capabilities_are_declared_from_the_known_ones(name):
    cls = registry.get(name)
    assert set(cls.capabilities) <= set(CAPABILITIES)
    assert all(cls.has(c) == (c in cls.capabilities) for c in CAPABILITIES)
    with pytest.raises(ValueError, match="unknown capability 'encoders'; choose one of: conditional"):
        cls.has("encoders")
    assert cls.counterpart is None or cls.counterpart in registry.names()


@pytest.mark.parametrize("name", MODELS)
def test_one_train_step_gives_finite_losses_and_changes_weights(name):
    model = build(name)
    data = batch(model, n=16)
    before = {id(w): w.numpy().copy() for w in model.trainable_weights}
    logs = model.train_step(data)
    assert set(model.loss_names) <= set(logs)
    assert all(np.isfinite(float(v)) for v in logs.values())
    for update in model.updates():  # each moved its networks, as often as it repeats, with its own optimizer
        assert any(not np.array_equal(before[id(v)], v.numpy()) for v in model.variables_of(update)), update.name
        optimizer = model.named_optimizers()[update.name]
        assert int(optimizer.iterations) == update.repeat
        assert len(optimizer.variables) == 2 + 2 * len(model.variables_of(update))


MULTI_NETWORK = [n for n in registry.names() if registry.get(n).updates is not GenerativeModel.updates]


@pytest.mark.parametrize("name", MULTI_NETWORK)
def test_each_update_changes_only_its_own_networks(name):
    model = build(name)
    owned = [id(v) for u in model.updates() for v in model.variables_of(u)]
    assert sorted(owned) == sorted(id(v) for v in model.trainable_variables)  # a partition of the variables
    for update in model.updates():
        model = build(name)
        for other in model.updates():  # every other update takes steps of size zero
            if other.name != update.name:
                model.named_optimizers()[other.name].learning_rate = 0.0
        own = {id(v) for v in model.variables_of(update)}
        before = [v.numpy().copy() for v in model.trainable_variables]
        model.train_step(batch(model, n=16))
        moved = {id(v) for b, v in zip(before, model.trainable_variables) if not np.array_equal(b, v.numpy())}
        assert moved and moved <= own, update.name


@pytest.mark.parametrize("name", MODELS)
def test_test_step_does_not_change_weights(name):
    model = build(name)
    before = [w.numpy().copy() for w in model.trainable_weights]
    logs = model.test_step(batch(model))
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert all(np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights))


@pytest.mark.parametrize("name", MODELS)
def test_get_config_returns_every_constructor_argument_and_round_trips(name):
    cls = registry.get(name)
    model = build(name, latent_dim=6, seed=4)
    cfg = model.get_config()
    assert cfg == {"latent_dim": 6, "learning_rate": 1e-3, "seed": 4, "image_shape": (28, 28, 1), "num_classes": 10,
                   **options.defaults(cls), **tiny_options(name)}
    again = cls(**cfg)
    assert again.get_config() == cfg
    assert again.count_params() == model.count_params()


@pytest.mark.parametrize("name", MODELS)
def test_options_are_typed_and_checked_by_their_annotation(name):
    cls = registry.get(name)
    for option in options.of(cls).values():
        assert option.validate(options.text(option.default)) == option.default  # as --option gives it
        assert type(option.validate(option.default)) is type(option.default)
        with pytest.raises(ValueError, match=rf"--option {option.name}='?nonsense'? is not allowed; "):
            option.validate("nonsense")
    with pytest.raises(ValueError, match=f"model '{name}' has no option 'nope'; its options: "):
        config.check_options(name, {"nope": "1"})


@pytest.mark.parametrize("name", MODELS)
def test_preview_is_fixed_by_the_seed(name):
    from tfgen import data

    model = build(name)
    real = data.make_points("ring", seed=0, num_train=1, num_test=50).x_test if model.has("points") else None
    a, b, c = model.preview_inputs(7, real), model.preview_inputs(7, real), model.preview_inputs(8, real)
    np.testing.assert_array_equal(a["z"], b["z"])
    assert not np.array_equal(a["z"], c["z"])
    picture = model.preview(a, epoch=3)
    assert picture.dtype == np.uint8 and picture.ndim in (2, 3)
    np.testing.assert_array_equal(picture, model.preview(b, epoch=3))
    if model.has("points"):
        return
    rows, cols = model.grid_shape
    assert a["z"].shape == (rows * cols, *model.noise_shape)
    if model.has("conditional"):  # one row per digit, the same codes in every row
        assert a["labels"].tolist() == [d for d in range(10) for _ in range(cols)]  # 10 classes: 10 rows
        np.testing.assert_array_equal(a["z"][:cols], a["z"][cols : 2 * cols])


@pytest.mark.parametrize("name", MODELS)
def test_model_defaults_are_valid_cli_defaults(name):
    defaults = config.model_defaults(name)
    assert {"epochs", "batch_size", "latent_dim", "lr"} <= set(defaults) <= {"epochs", "batch_size", "latent_dim",
                                                                           "lr", "dataset"}
    config.resolve(name, {})  # validates


@pytest.mark.slow  # a fresh interpreter that trains
def test_a_model_file_dropped_into_the_package_trains_evaluates_explores_and_exports(tmp_path, data_dir):
    import shutil
    import subprocess
    import sys

    from conftest import REPO, train_env

    shutil.copytree(REPO / "tfgen", tmp_path / "tfgen", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(tmp_path / "tfgen" / "models" / "vae.py", tmp_path / "tfgen" / "models" / "my_vae.py")
    out = tmp_path / "runs" / "my_vae"
    commands = [["train", "--list"],
                ["train", "my_vae", "--epochs", "1", "--train-size", "64", "--latent-dim", "2", "--option", "hidden=64",
                 "--data-dir", str(data_dir), "--out", str(out)],
                ["evaluate", str(out), "--num-samples", "64", "--k", "2"],
                ["explore", "reconstruct", str(out), "--n", "4"]]
    script = ("import sys, tfgen\nfrom tfgen.commands import main\nassert tfgen.__file__.startswith(sys.argv[1])\n"
              f"sys.exit(max(main(argv) for argv in {commands!r}))")
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300,
                            env=train_env(PYTHONPATH=str(tmp_path), TFGEN_CACHE_DIR=str(tmp_path / "cache")))
    assert result.returncode == 0, result.stderr[-2000:]
    assert any(line.startswith("my_vae ") for line in result.stdout.splitlines())  # listed
    assert (out / "saved_model").is_dir() and (out / "images" / "epoch_0001.png").is_file()  # trained, exported
    assert "test ELBO" in result.stdout  # evaluated
    assert (out / "explore" / "reconstruct_4.png").is_file()  # explored


def test_batch_shares_are_strided_and_disjoint():
    from tfgen.models.base import batch_shares

    x = tf.range(10)
    assert [s[0].numpy().tolist() for s in batch_shares((x, x), 5)] == [[0, 5], [1, 6], [2, 7], [3, 8], [4, 9]]
    assert [s[0].numpy().tolist() for s in batch_shares((x[:3], x[:3]), 5)] == [[0], [1], [2], [0], [1]]
    assert batch_shares((x, x), 1)[0][0] is x


# Every weight (BatchNorm statistics included) of each model with its defaults at 28x28x1 and 10 classes, as
# before the networks were built from the data's shape: the seeds' architectures, so their results stand.
PARAMETERS_AT_28x28x1 = {"ae": 1_093_030, "beta_vae": 1_105_780, "cgan": 1_122_705, "cond_vae": 1_113_460,
                         "conv_vae": 33_813, "cvae": 366_533, "cvae_gan": 6_522_976, "dcgan": 2_486_465,
                         "gan": 4_995, "noise_vae": 655_474, "vae": 1_105_780, "wgan_gp": 2_485_569,
                         # widths 16,32,64 (888,609 weights), and their moving average
                         "diffusion": 1_777_218, "cond_diffusion": 1_778_626,
                         # the SNGAN paper's CNN at two levels (width 32, half its 64), the power iteration's u
                         # included
                         "sngan": 1_155_491, "cond_sngan": 1_228_515}


@pytest.mark.slow  # builds every full-size model (4 s): the quick loop stays under 90 s
@pytest.mark.parametrize("name", MODELS)
def test_default_models_at_28x28x1_keep_the_seed_architectures(name):
    assert name in PARAMETERS_AT_28x28x1, f"pin {name}'s parameter count at 28x28x1 in PARAMETERS_AT_28x28x1"
    model = registry.get(name)(learning_rate=1e-3, seed=0)
    assert sum(int(np.prod(w.shape)) for w in model.weights) == PARAMETERS_AT_28x28x1[name]


@pytest.mark.parametrize("name", MODELS)
def test_a_model_subclasses_a_family_base_only_and_takes_its_options_by_keyword(name):
    from tfgen.models.base import AdversarialModel, DiffusionModel, EncoderDecoder

    cls = registry.get(name)
    assert cls.__bases__[0] in (GenerativeModel, EncoderDecoder, AdversarialModel, DiffusionModel)
    assert len(cls.__bases__) == 1
    params = inspect.signature(cls.__init__).parameters
    assert all(params[option].kind is inspect.Parameter.KEYWORD_ONLY for option in options.of(cls))


def test_an_integer_option_must_have_an_upper_bound():
    from typing import Annotated

    from tfgen.options import Range

    class Wide(GenerativeModel):
        def __init__(self, latent_dim: int = 2, learning_rate: float = 1e-3, seed=None, *,
                     width: Annotated[int, Range(1)] = 4, **kwargs):
            super().__init__(latent_dim=latent_dim, learning_rate=learning_rate, seed=seed, **kwargs)

    with pytest.raises(TypeError, match=r"Wide.__init__ argument 'width' holds integers: bound them"):
        options.of(Wide)


@pytest.mark.parametrize("name", MODELS)
def test_the_memory_estimate_counts_the_weights_the_model_trains(name):
    from tfgen import config, footprint

    cfg = config.resolve(name, {"options": tiny_options(name)})
    if not registry.get(name).has("points"):
        cfg = cfg.with_data((28, 28, 3), 3)
    size = footprint.estimate(cfg)
    model = cfg.make_model()
    assert size.parameters == sum(int(np.prod(v.shape)) for v in model.trainable_variables) > 0
    assert size.activations_per_image >= np.prod(cfg.image_shape or (2,))  # at least one layer outputs an image
    assert size.training_bytes(10) > size.training_bytes(1) > 16 * size.parameters


@pytest.mark.parametrize("classes, rows", [(2, 2), (30, 20)])
def test_a_conditional_preview_has_one_labelled_row_per_class_up_to_the_bound(classes, rows):
    from tfgen import images

    model = registry.get("cgan")(latent_dim=4, learning_rate=1e-3, seed=1, image_shape=(28, 28, 1),
                                 num_classes=classes)
    inputs = model.preview_inputs(7, None)
    cols = model.grid_shape[1]
    assert inputs["labels"].tolist() == [c for c in range(rows) for _ in range(cols)]
    plain = model.preview(inputs, epoch=1)
    names = [f"class {c}" for c in range(classes)]
    labelled = model.preview(inputs, epoch=1, row_labels=names)
    assert plain.shape == (3 * (rows * 30 + 2), 3 * (cols * 30 + 2))  # 28-pixel images enlarged 3 times
    assert labelled.shape[0] == plain.shape[0] and labelled.shape[1] > plain.shape[1]
    np.testing.assert_array_equal(labelled[:, -plain.shape[1]:], plain)  # the names are a column on the left
    left = labelled[:, : labelled.shape[1] - plain.shape[1]]
    for r in range(rows):  # each row's name is drawn beside it, and nowhere else
        band = left[3 * (2 + r * 30): 3 * (2 + r * 30 + 28)]
        assert (band < 128).any()
    assert images.tile(np.zeros((2, 28, 28, 1)), 2, 1, row_labels=["a", "b"]).shape[0] == 3 * 62
