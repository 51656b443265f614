"""The run directory keeps a run whole: one process at a time, refusals that change nothing."""

import os
import subprocess

import pytest

import tfgen
from tfgen import distribute, rundir, training
from tfgen.commands import main as cli

from conftest import REPO, TRAIN_PY, make_run, train_env
from test_train import TINY, assert_complete_run, read_rows


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


def test_a_run_killed_before_its_config_was_written_can_be_overwritten(tmp_path, data_dir, capsys):
    out = tmp_path / "run"
    (out / "images").mkdir(parents=True)
    (out / "images" / ".epoch_0000.tmp.png").write_bytes(b"half")
    for flags, message in (([], "holds a run that was stopped before it started (no config.json); pass --overwrite"),
                           (["--resume"], "holds no run to resume")):
        assert cli(["cvae", "--data-dir", str(data_dir), "--out", str(out), *flags]) == 2
        assert message in capsys.readouterr().err
    config = tfgen.config.for_training("cvae", tiny(data_dir, out, verbose=None))
    plan = training.make_plan(config, distribute.make_strategy("auto"), None, resume=False, overwrite=True,
                              dataset=None, callbacks=(), verbose=0)  # what --overwrite does before training
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


@pytest.mark.slow  # trains twice
@pytest.mark.parametrize("index", ["missing", "empty", "garbage"])
def test_checkpoints_are_found_without_their_index_file(tmp_path, data_dir, capsys, index):
    out = tmp_path / "run"
    tfgen.train("cvae", **tiny(data_dir, out, epochs=3))
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
