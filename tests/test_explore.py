"""Every explore command on tiny trained runs, and its refusals."""

import re
from statistics import NormalDist

import imageio.v3 as iio
import numpy as np
import pytest

import tfgen
from tfgen import images, latent, registry
from tfgen.commands import explore
from tfgen.commands import main as cli_main
from tfgen.data import to_float

from conftest import make_run, tiny_options

RUNS = {"vae": 4, "ae": 4, "conv_vae": 2, "cond_vae": 4}  # model -> latent size


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_dir):
    """Runs side by side, named after their models (so compare finds ae's sibling vae); untrained, which every
    tool takes as well as a trained model."""
    parent = tmp_path_factory.mktemp("runs")
    for model, size in RUNS.items():
        make_run(parent / model, model, latent_dim=size, data_dir=str(data_dir))
    return parent


def run_explore(*args):
    try:
        return explore.main([str(a) for a in args])
    except SystemExit as e:  # argparse's usage errors
        return e.code


def test_interpolate_writes_a_strip_and_a_there_and_back_gif_between_two_digits(runs, capsys):
    assert run_explore("interpolate", runs / "vae", "--from", "1", "--steps", "6") == 0
    out = capsys.readouterr().out
    a, b, digit_a, digit_b = re.search(r"test images (\d+) -> (\d+), classes (\d) -> (\d)", out).groups()
    assert a == "1" and digit_a != digit_b  # by default --to is the first test image of another digit
    strip = iio.imread(runs / "vae" / "explore" / f"interpolate_{a}_{b}.png")
    assert strip.shape[1] > 7 * strip.shape[0]  # one row: image, 6 decoded points, image
    frames = iio.imread(runs / "vae" / "explore" / f"interpolate_{a}_{b}.gif", index=None)
    assert len(frames) == 6 + 4  # there (6) and back without repeating the ends (4)


def test_interpolate_by_classes_also_for_conditional_and_ae_models(runs, capsys):
    for model, flag in (("cond_vae", "--classes"), ("ae", "--digits")):  # --digits: the flag's old name
        assert run_explore("interpolate", runs / model, flag, "3", "8") == 0
        assert "classes 3 -> 8" in capsys.readouterr().out
    assert run_explore("interpolate", runs / "vae", "--classes", "3", "10") == 2
    assert "--classes 10 is not a class; the run's data has classes 0..9" in capsys.readouterr().err


def test_interpolate_refuses_an_index_outside_the_test_set(runs, capsys):
    assert run_explore("interpolate", runs / "vae", "--from", "64") == 2
    assert "--from 64 is out of range; the test set has images 0..63" in capsys.readouterr().err


def test_retrieve_prints_precision_and_draws_queries_with_neighbours(runs, capsys):
    assert run_explore("retrieve", runs / "vae", "--k", "3", "--queries", "0,5") == 0
    out = capsys.readouterr().out
    precision = float(out.split("precision@3 over all 64 test images")[1].split(":")[-1])
    run = tfgen.load(runs / "vae")
    ds = run.dataset()
    codes = np.asarray(run.model.latent_mean(to_float(ds.x_test, run.model.input_range)), np.float64)
    distances = np.linalg.norm(codes[:, None] - codes[None], axis=-1) + np.diag(np.full(len(codes), np.inf))
    nearest = np.argsort(distances, axis=1)[:, :3]  # brute force, independent of tfgen.latent
    assert precision == pytest.approx(np.mean(ds.y_test[nearest] == ds.y_test[:, None]), abs=5e-5)
    grid = iio.imread(runs / "vae" / "explore" / "retrieve_k3.png")
    x = to_float(ds.x_test, run.model.input_range)
    expected = images.tile(np.concatenate([x[[0]], x[nearest[0]], x[[5]], x[nearest[5]]]), 2, 4)
    np.testing.assert_array_equal(grid, expected)  # each query followed by its own neighbours, nearest first
    grid = iio.imread(runs / "vae" / "explore" / "retrieve_k3.png")
    assert grid.shape[1] / grid.shape[0] == pytest.approx(4 / 2, rel=0.05)  # 2 queries x (1 + 3)
    assert run_explore("retrieve", runs / "vae", "--k", "64") == 2
    assert "--k 64 must be between 1 and 63" in capsys.readouterr().err
    assert run_explore("retrieve", runs / "vae", "--queries", "1,x") == 2
    assert "--queries: takes test image indices separated by commas, such as 0,5,9; got '1,x'" in \
        capsys.readouterr().err


def test_latent_map_for_a_2d_latent(runs):
    assert run_explore("latent-map", runs / "conv_vae", "--n", "5") == 0
    manifold = iio.imread(runs / "conv_vae" / "explore" / "latent_manifold.png")
    assert manifold.shape == (5 * 28 * 2, 5 * 28 * 2)
    model = tfgen.load(runs / "conv_vae").model
    q = [NormalDist().inv_cdf(p) for p in (0.05, 0.95)]
    for (row, col), z in {(0, 0): (q[0], q[1]), (4, 4): (q[1], q[0]), (0, 4): (q[1], q[1])}.items():
        cell = manifold[row * 56:(row + 1) * 56, col * 56:(col + 1) * 56]  # z1 to the right, z2 upwards
        expected = images.tile(np.asarray(model.sample(np.array([z], np.float32))), 1, 1, pad=0, scale=2)
        np.testing.assert_array_equal(cell, expected)
    scatter = iio.imread(runs / "conv_vae" / "explore" / "latent_scatter.png")
    assert scatter.ndim == 3 and scatter.shape[0] > 200 and scatter.shape[1] > 200
    assert len(np.unique(scatter.reshape(-1, scatter.shape[-1]), axis=0)) > 10  # a drawn plot, not a blank image


def test_latent_map_checks_the_label_against_the_class_count(runs, capsys):
    assert run_explore("latent-map", runs / "cond_vae", "--label", "12") == 2  # 4-D latent: refused for that first
    assert "latent-map needs a 2-D latent" in capsys.readouterr().err
    with pytest.raises(ValueError, match="--label 12 is not a class; the run's data has classes 0..9"):
        latent.check_class(12, 10, "--label")
    with pytest.raises(ValueError, match="--label names a class, but the run's data has no labels"):
        latent.check_class(0, 0, "--label")
    assert latent.check_class(9, 10, "--label") == 9


def test_latent_map_refuses_a_higher_dimensional_latent(runs, capsys):
    assert run_explore("latent-map", runs / "vae") == 2
    assert "latent-map needs a 2-D latent" in capsys.readouterr().err
    assert not (runs / "vae" / "explore" / "latent_manifold.png").exists()


def test_reconstruct_puts_images_above_their_reconstructions(runs):
    assert run_explore("reconstruct", runs / "ae", "--n", "8") == 0
    grid = iio.imread(runs / "ae" / "explore" / "reconstruct_8.png")
    run = tfgen.load(runs / "ae")
    x = to_float(run.dataset().x_test[:8], run.model.input_range)
    recon = np.asarray(run.model.decode_latent(run.model.latent_mean(x)))
    np.testing.assert_array_equal(grid, images.tile(np.concatenate([x, recon]), 2, 8))


def test_compare_defaults_to_the_sibling_vae_for_an_ae_run(runs, capsys):
    assert run_explore("compare", runs / "ae", "--n", "16") == 0
    assert (runs / "ae" / "explore" / "compare_ae_vs_vae.png").is_file()
    assert "right:" in capsys.readouterr().out
    assert run_explore("compare", runs / "ae", "--with", runs / "missing") == 2
    assert "no run to compare with" in capsys.readouterr().err


def test_conditional_grid_has_a_row_per_class(runs, capsys):
    assert run_explore("conditional-grid", runs / "cond_vae", "--columns", "4") == 0
    grid = iio.imread(runs / "cond_vae" / "explore" / "conditional_grid.png")
    plain = images.tile(np.zeros((40, 28, 28, 1)), 10, 4)
    assert grid.shape[0] == plain.shape[0] and grid.shape[1] > plain.shape[1]  # 10 rows, and their names on the left
    assert (grid[:, : grid.shape[1] - plain.shape[1]] < 128).any()
    assert run_explore("conditional-grid", runs / "vae") == 2
    assert "conditional-grid needs a conditional model; 'vae' takes no labels" in capsys.readouterr().err


@pytest.mark.slow  # samples a U-Net in 1 + 2 + 4 + 4 + 4 + 4 steps (8 s)
def test_a_diffusion_model_shows_one_noise_in_several_numbers_of_steps_and_its_trajectory(runs, data_dir, capsys):
    run = make_run(runs / "cond_diffusion", "cond_diffusion", data_dir=str(data_dir),
                   options=tiny_options("cond_diffusion"))
    assert run_explore("steps", run, "--steps", "1,2,4", "--n", "3") == 0
    grid = iio.imread(run / "explore" / "steps_1_2_4.png")
    plain = images.tile(np.zeros((9, 28, 28, 1)), 3, 3)
    assert grid.shape[0] == plain.shape[0] and grid.shape[1] > plain.shape[1]  # a labelled row per number of steps
    assert run_explore("trajectory", run, "--points", "2", "--steps", "4", "--n", "5") == 0
    assert iio.imread(run / "explore" / "trajectory_4.png").shape[0] == images.tile(np.zeros((10, 28, 28, 1)), 2,
                                                                                     5).shape[0]
    loaded = tfgen.load(run)
    path = loaded.trajectory(points=2, n=3, steps=4)
    np.testing.assert_allclose(path[-1], loaded.sample_in_steps([4], n=3)[0], atol=1e-6)  # it ends at the samples
    for command in ("steps", "trajectory"):
        assert run_explore(command, runs / "vae") == 2
        assert f"{command} needs a model that samples in steps; 'vae' samples in one pass" in capsys.readouterr().err
    assert run_explore("steps", run, "--steps", "0,2") == 2
    assert "steps must be a whole number from 1 to 1,000; got 0" in capsys.readouterr().err
    assert run_explore("latent-map", run) == 2
    assert "draws codes of shape (28, 28, 1)" in capsys.readouterr().err


def test_tfgen_explore_is_the_same_command(runs):
    assert cli_main(["explore", "reconstruct", str(runs / "vae"), "--n", "4"]) == 0
    assert (runs / "vae" / "explore" / "reconstruct_4.png").is_file()


def test_refuses_folders_that_are_not_runs_or_have_no_checkpoint(tmp_path, runs, capsys):
    assert run_explore("reconstruct", tmp_path) == 2
    assert "is not a tfgen run directory" in capsys.readouterr().err
    (tmp_path / "config.json").write_text((runs / "vae" / "config.json").read_text())
    assert run_explore("reconstruct", tmp_path) == 2
    assert "has no checkpoint yet" in capsys.readouterr().err


def test_unknown_command_is_a_usage_error(runs, capsys):
    assert run_explore("dream", runs / "vae") == 2
    assert "invalid choice: 'dream'" in capsys.readouterr().err


def test_the_latent_tools_are_run_methods_and_pure_functions(runs):
    run = tfgen.load(runs / "cond_vae")
    ds = run.dataset()
    pair, labels = ds.x_test[:2], ds.y_test[:2]
    path = run.interpolate(pair, labels, steps=5)
    assert path.shape == (5, 28, 28, 1)
    np.testing.assert_allclose(path[[0, -1]], run.reconstruct(pair, labels), atol=1e-6)  # the ends: each image
    assert run.class_grid(3).shape == (10 * 3, 28, 28, 1)
    codes = np.random.default_rng(0).standard_normal((50, 3))
    distances = np.linalg.norm(codes[:, None] - codes[None], axis=-1) + np.diag(np.full(50, np.inf))
    np.testing.assert_array_equal(latent.neighbours(codes, 4, block=7), np.argsort(distances, axis=1)[:, :4])
    clusters = np.repeat(np.eye(5) * 10, 10, axis=0) + 0.01 * codes[:, :1]
    assert latent.precision_at_k(latent.neighbours(clusters, 9), np.repeat(np.arange(5), 10)) == 1.0
    z = latent.prior_grid(3)
    assert z[0].tolist() == pytest.approx([NormalDist().inv_cdf(0.05), NormalDist().inv_cdf(0.95)])
    models = [registry.get("vae")(latent_dim=d, learning_rate=1e-3) for d in (4, 4, 2)]
    a, b = latent.shared_codes(models, 6, seed=1)[:2], latent.shared_codes(models, 6, seed=1)[2]
    assert a[0] is a[1] and b.shape == (6, 2)
