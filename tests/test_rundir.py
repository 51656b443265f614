"""The run directory keeps a run whole: one process at a time, refusals that change nothing."""

import os
import shutil
import subprocess

import pytest

import tfgen
from tfgen import distribute, rundir, training
from tfgen.commands import main as cli

from conftest import REPO, TRAIN_PY, make_run, train_env
from conftest import TINY, assert_complete_run, read_rows


def tiny(data_dir, out, **settings):
    return {"epochs": 1, "batch_size": 64, "latent_dim": 4, "train_size": 64, "data_dir": str(data_dir),
            "out": str(out), "verbose": 0, **settings}


def test_a_run_directory_in_use_is_refused_naming_the_holder(tmp_path, data_dir):
    out = tmp_path / "run"
    in_use = f"--out {out} is in use by another tfgen process \\(pid {os.getpid()}\\)"
    lock = rundir.RunLock(out).acquire()  # a run starting: another process holds the lock, nothing written yet
    try:
        with pytest.raises(rundir.RunDirError, match=in_use):
            tfgen.train("cvae", **tiny(data_dir, out))
        assert [p.name for p in out.iterdir()] == [".lock"]
    finally:
        lock.release()
    rundir.RunLock(out).acquire().release()  # released: the directory can be used again
    make_run(out, "cvae", batch_size=64, latent_dim=4, train_size=64, data_dir=str(data_dir))
    before = sorted(p.name for p in out.rglob("*"))
    lock = rundir.RunLock(out).acquire()  # the run being resumed or replaced by another process
    try:
        for settings in ({"overwrite": True}, {"resume": True, "epochs": 2}):
            with pytest.raises(rundir.RunDirError, match=in_use):
                tfgen.train("cvae", **tiny(data_dir, out, **settings))
    finally:
        lock.release()
    assert sorted(p.name for p in out.rglob("*")) == before


def test_resume_without_a_run_is_refused_and_creates_nothing(tmp_path, data_dir, capsys):
    out = tmp_path / "typo"
    assert cli(["cvae", "--resume", "--data-dir", str(data_dir), "--out", str(out)]) == 2
    assert f"--resume: --out {out} holds no run to resume (no config.json)" in capsys.readouterr().err
    assert not out.exists()


def test_a_refused_run_leaves_an_existing_folder_as_it_was(tmp_path, capsys):
    out = tmp_path / "empty"
    out.mkdir()
    assert cli(["cvae", "--data-dir", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert "mnist.npz: no such file" in capsys.readouterr().err
    assert list(out.iterdir()) == []


def test_a_run_starting_in_another_process_is_in_use_not_stopped(tmp_path, data_dir):
    # Another process has taken the lock and created the folder, but not yet written config.json: to the
    # unlocked first look the folder is a run stopped before it started; it is in use.
    out = tmp_path / "run"
    lock = rundir.RunLock(out).acquire()
    (out / "images").mkdir()
    try:
        with pytest.raises(rundir.RunDirError, match=f"--out {out} is in use by another tfgen process"):
            tfgen.train("cvae", **tiny(data_dir, out))
    finally:
        lock.release()
    with pytest.raises(rundir.RunDirError, match="holds a run that was stopped before it started"):
        tfgen.train("cvae", **tiny(data_dir, out))


def test_a_run_killed_before_its_config_was_written_can_be_overwritten(tmp_path, data_dir, capsys):
    out = tmp_path / "run"
    (out / "images").mkdir(parents=True)
    (out / "images" / ".epoch_0000.tmp.png").write_bytes(b"half")
    for flags, message in (([], "holds a run that was stopped before it started (no config.json); pass --overwrite"),
                           (["--resume"], "holds no run to resume")):
        assert cli(["cvae", "--data-dir", str(data_dir), "--out", str(out), *flags]) == 2
        assert message in capsys.readouterr().err
    config = tfgen.config.resolve("cvae", tiny(data_dir, out, verbose=None))
    plan = training.make_plan(config, distribute.make_strategy("auto"), None, resume=False,
                              overwrite=True)  # what --overwrite does before training
    plan.lock.release()
    assert sorted(p.name for p in out.rglob("*")) == [".lock", "config.json", "images"]


@pytest.mark.slow
def test_two_runs_started_together_on_one_directory_leave_one_run_and_one_refusal(tmp_path, data_dir):
    out = tmp_path / "run"
    args = [*TRAIN_PY, "cvae", "--epochs", "2", "--data-dir", str(data_dir), "--out", str(out), *TINY]
    procs = [subprocess.Popen(args, cwd=REPO, env=train_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert sorted(code for code, _ in results) == [0, 2], results
    refusal = next(err for code, err in results if code == 2)
    assert "is in use by another tfgen process" in refusal or "already holds a run" in refusal
    assert_complete_run(out, 2)
    assert [int(r["epoch"]) for r in read_rows(out)] == [1, 2]


# ----- a resumed run's files are made to agree with its checkpoint -----

@pytest.fixture(scope="module")
def three_epochs(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("three") / "run"
    tfgen.train("cvae", **tiny(data_dir, out, epochs=3))
    return out


def copy_of(run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(run, out)
    return out


def rewrite_rows(out, epochs):
    lines = (out / "metrics.csv").read_text().splitlines()
    by_epoch = {line.split(",")[0]: line for line in lines[1:]}
    (out / "metrics.csv").write_text("\n".join([lines[0], *(by_epoch[str(e)] for e in epochs)]) + "\n")


@pytest.mark.slow  # trains
def test_repeated_and_later_rows_and_grids_are_dropped_on_resume(three_epochs, tmp_path, data_dir, capsys):
    out = copy_of(three_epochs, tmp_path)
    rewrite_rows(out, [1, 2, 3, 2, 3])
    with open(out / "metrics.csv", "a") as f:
        f.write("4," + ",".join(["1"] * 10) + "\n5,54")  # a finished row past the checkpoint, a torn one
    shutil.copy(out / "images" / "epoch_0003.png", out / "images" / "epoch_0004.png")
    run = tfgen.train("cvae", resume=True, **tiny(data_dir, out, epochs=4))
    err = capsys.readouterr().err
    assert f"repaired {out} to agree with its checkpoint of epoch 3" in err
    assert "dropped 1 metrics.csv row(s) torn" in err and "of epoch 4, after the checkpoint" in err
    assert "repeated metrics.csv row(s) of epoch 2, 3" in err and "deleted the grid(s) of epoch 4" in err
    assert [row["epoch"] for row in run.metrics] == [1, 2, 3, 4]
    assert_complete_run(out, 4)


@pytest.mark.slow  # trains
def test_a_missing_grid_is_redrawn_from_the_checkpoint_or_left_out_of_the_gif(three_epochs, tmp_path, data_dir,
                                                                             capsys):
    import imageio.v3 as iio
    import numpy as np

    out = copy_of(three_epochs, tmp_path)
    original = iio.imread(out / "images" / "epoch_0003.png")
    (out / "images" / "epoch_0003.png").unlink()
    (out / "images" / "epoch_0001.png").write_bytes(b"\x89PNG truncated")
    tfgen.train("cvae", resume=True, **tiny(data_dir, out, epochs=4))
    err = capsys.readouterr().err
    assert "redrew the grid of epoch 3 from its checkpoint" in err
    assert "the grid(s) of epoch 1 were missing or unreadable and cannot be redrawn" in err
    np.testing.assert_array_equal(iio.imread(out / "images" / "epoch_0003.png"), original)
    assert not (out / "images" / "epoch_0001.png").exists() and (out / "progress.gif").is_file()
    assert (out / "saved_model" / "saved_model.pb").is_file()


@pytest.mark.slow  # its fixture trains
@pytest.mark.parametrize("damage, message", [
    ("gap", "has finished 3 epochs but metrics.csv has no row for epoch 2, which cannot be redone"),
    ("bytes", "its metrics.csv is unreadable"),
    ("header", "its metrics.csv has no epoch column"),
])
def test_metrics_that_cannot_be_repaired_are_refused_and_left_alone(three_epochs, tmp_path, data_dir, damage,
                                                                    message):
    out = copy_of(three_epochs, tmp_path)
    if damage == "gap":
        rewrite_rows(out, [1, 3])
    elif damage == "bytes":
        (out / "metrics.csv").write_bytes(bytes(range(256)) * 4)
    else:
        (out / "metrics.csv").write_text("loss,kl\n1,2\n")
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != ".lock"}
    with pytest.raises(rundir.RunDirError, match=message + ".*--overwrite"):
        tfgen.train("cvae", resume=True, **tiny(data_dir, out, epochs=4))
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != ".lock"} == before


@pytest.mark.slow  # trains
@pytest.mark.parametrize("index", ["missing", "empty", "garbage"])
def test_checkpoints_are_found_without_their_index_file(three_epochs, tmp_path, data_dir, capsys, index):
    out = copy_of(three_epochs, tmp_path)
    saved = sorted(p.name for p in (out / "checkpoints").glob("ckpt-*"))
    state = out / "checkpoints" / "checkpoint"
    if index == "missing":
        state.unlink()
    else:
        state.write_text("" if index == "empty" else "model_checkpoint_path: {{{")
    assert tfgen.load(out).epochs == 3  # evaluate and explore read it too
    run = tfgen.train("cvae", resume=True, **tiny(data_dir, out, epochs=4, verbose=2))
    assert "resuming" in capsys.readouterr().out and [row["epoch"] for row in run.metrics] == [1, 2, 3, 4]
    assert "ckpt-3.index" in saved and sorted(p.name for p in (out / "checkpoints").glob("ckpt-*.index")) == \
        ["ckpt-3.index", "ckpt-4.index"]  # kept two, as the repaired index says
    assert 'model_checkpoint_path: "ckpt-4"' in state.read_text()


@pytest.mark.slow  # its fixture trains
def test_a_resume_with_nothing_to_train_rewrites_the_index_and_removes_a_killed_saves_leftovers(three_epochs, tmp_path,
                                                                                                 data_dir):
    out = copy_of(three_epochs, tmp_path)
    state = out / "checkpoints" / "checkpoint"
    state.write_text("model_checkpoint_path: {{{")
    (out / "checkpoints" / "ckpt-4_temp").mkdir()  # what a SIGKILL while epoch 4 was saved leaves
    (out / "checkpoints" / "ckpt-4_temp" / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"")
    tfgen.train("cvae", resume=True, **tiny(data_dir, out, epochs=3))
    assert 'model_checkpoint_path: "ckpt-3"' in state.read_text()
    assert not (out / "checkpoints" / "ckpt-4_temp").exists()


@pytest.mark.slow  # its fixture trains
def test_a_stopped_run_gets_its_final_outputs_without_training_more(three_epochs, tmp_path, data_dir):
    out = copy_of(three_epochs, tmp_path)
    for name in ("progress.gif", "loss.png"):
        (out / name).unlink()
    shutil.rmtree(out / "saved_model")  # as a run stopped after epoch 3 has them
    before = (out / "metrics.csv").read_text(), sorted(p.name for p in (out / "checkpoints").iterdir())
    tfgen.train("cvae", resume=True, **tiny(data_dir, out, epochs=3))  # --resume --epochs 3: the epochs it has
    assert ((out / "metrics.csv").read_text(), sorted(p.name for p in (out / "checkpoints").iterdir())) == before
    assert_complete_run(out, 3)


@pytest.mark.slow  # trains twice
def test_a_full_disk_stops_with_one_line_naming_the_file_and_the_resume_command(tmp_path, data_dir, monkeypatch,
                                                                               capsys):
    import errno

    from tfgen import images

    out = tmp_path / "run"
    write_png = images.write_png

    def full_at_epoch_2(path, image):
        if path.name == "epoch_0002.png":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        write_png(path, image)

    monkeypatch.setattr(images, "write_png", full_at_epoch_2)
    monkeypatch.setattr("sys.argv", [str(REPO / "train.py")])  # as python train.py, which the hint names
    args = ["cvae", "--epochs", "3", "--data-dir", str(data_dir), "--out", str(out), *TINY]
    assert cli(args) == 1
    err = capsys.readouterr().err
    assert f"tfgen: error: the disk is full: cannot write {out / 'images' / 'epoch_0002.png'}; free some space, " \
           f"then continue with: python train.py cvae --out {out} --resume" in err
    assert "Traceback" not in err
    monkeypatch.setattr(images, "write_png", write_png)  # space freed
    assert cli([*args, "--resume"]) == 0
    assert_complete_run(out, 3)


@pytest.mark.slow  # its fixture trains
def test_evaluate_and_explore_read_the_checkpoint_before_a_truncated_newest_one(three_epochs, tmp_path, capsys):
    from tfgen.commands import explore

    out = copy_of(three_epochs, tmp_path)
    newest = next((out / "checkpoints").glob("ckpt-3.data-*"))
    newest.write_bytes(newest.read_bytes()[:100])  # as a crash or a full disk would leave it
    assert tfgen.load(out).epochs == 2
    assert explore.main(["reconstruct", str(out), "--n", "4"]) == 0
    err = capsys.readouterr().err
    assert "cannot read checkpoint" in err and "ckpt-3" in err and "trying the one before" in err
    assert (out / "explore" / "reconstruct_4.png").is_file()
