"""Faults: a run killed or stopped at any moment resumes with nothing lost or repeated."""

import signal
import subprocess
import time

import pytest

import tfgen
from tfgen import config as config_lib
from tfgen.rundir import RunDirError

from conftest import REPO, TRAIN_PY, run_train, train_env
from conftest import TINY, assert_complete_run, read_rows

pytestmark = pytest.mark.slow


# train.py, but the process stops itself (SIGSTOP) once the SavedModel is written under its temporary name, so
# that a test can kill it inside the export however fast the export is.
STOP_IN_EXPORT = """
import contextlib, os, runpy, signal, sys
import tfgen.export
atomic_path = tfgen.export.atomic_path
@contextlib.contextmanager
def stopping_atomic_path(path):
    with atomic_path(path) as tmp:
        yield tmp
        os.kill(os.getpid(), signal.SIGSTOP)  # written under the temporary name, not yet renamed
tfgen.export.atomic_path = stopping_atomic_path
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def start_train(out, data_dir, epochs, stop_in_export=False):
    args = [*TRAIN_PY, "cvae", "--epochs", str(epochs), "--data-dir", str(data_dir), "--out", str(out), *TINY]
    if stop_in_export:
        args = [args[0], "-c", STOP_IN_EXPORT, *args[1:]]
    return subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=train_env())


def signal_when(proc, ready, sig, timeout=240.0):
    """Sends ``sig`` to ``proc`` as soon as ``ready()`` is true; fails instead of waiting past ``timeout``."""
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert proc.poll() is None, "training ended before the signal: " + proc.stderr.read()[-2000:]
            assert time.monotonic() < deadline, "training did not reach the point to signal in time"
            time.sleep(0.02)
        proc.send_signal(sig)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=60)
    return proc.returncode, proc.stderr.read()


def checkpoint_written(out, n):
    state = out / "checkpoints" / "checkpoint"
    return lambda: state.is_file() and f"ckpt-{n}\"" in state.read_text()


def resume_and_check(out, data_dir, epochs):
    result = run_train("cvae", "--epochs", str(epochs), "--data-dir", str(data_dir), "--out", str(out), "--resume",
                       *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    assert_complete_run(out, epochs)
    return result


def test_sigkill_mid_run_resumes_every_epoch_once_and_only_extends(tmp_path, data_dir):
    out, epochs = tmp_path / "run", 15
    # Kill as soon as epoch 2's checkpoint exists: mid-way through a later epoch.
    signal_when(start_train(out, data_dir, epochs), checkpoint_written(out, 2), signal.SIGKILL)
    finished_before = len(read_rows(out))
    assert 2 <= finished_before < epochs

    result = resume_and_check(out, data_dir, epochs)
    assert "resuming" in result.stdout

    # Resuming may extend the run, not change what defines it.
    result = run_train("cvae", "--epochs", str(epochs), "--data-dir", str(data_dir), "--out", str(out), "--resume",
                       "--latent-dim", "9")
    assert result.returncode == 2 and "--latent-dim 9 differs from the resumed run's latent_dim=4" in result.stderr
    result = run_train("cvae", "--epochs", "2", "--data-dir", str(data_dir), "--out", str(out), "--resume")
    assert result.returncode == 2 and f"--epochs 2 is fewer than the {epochs} epochs" in result.stderr
    assert config_lib.load(out / "config.json").epochs == epochs
    result = run_train("cvae", "--epochs", str(epochs + 1), "--data-dir", str(data_dir), "--out", str(out),
                       "--resume")
    assert result.returncode == 0, result.stderr[-3000:]
    assert_complete_run(out, epochs + 1)


@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_sigint_stop_between_steps_and_say_how_to_resume(tmp_path, data_dir, sig, status):
    out, epochs = tmp_path / "run", 15
    code, stderr = signal_when(start_train(out, data_dir, epochs), checkpoint_written(out, 2), sig)
    assert code == status, stderr[-3000:]
    assert f"stopped by {signal.Signals(sig).name}" in stderr
    assert f"python train.py cvae --out {out} --resume" in stderr
    assert "Traceback" not in stderr
    finished = len(read_rows(out))
    assert finished >= 2
    # Everything of each finished epoch is there, nothing of the stopped one.
    assert sorted(p.name for p in (out / "images").glob("epoch_*.png"))[-1] == f"epoch_{finished:04d}.png"
    resume_and_check(out, data_dir, epochs)


@pytest.mark.parametrize("moment", ["epoch 1", "export"])
def test_sigkill_in_epoch_1_or_during_export_resumes_to_a_complete_run(tmp_path, data_dir, moment):
    out, epochs = tmp_path / "run", 3
    if moment == "epoch 1":  # the untrained grid is written, no epoch has finished
        ready = lambda: (out / "images" / "epoch_0000.png").is_file()  # noqa: E731
    else:  # the SavedModel is written to its temporary name, not yet renamed (the process stopped itself there)
        ready = lambda: (out / ".saved_model.tmp" / "saved_model.pb").exists()  # noqa: E731
    signal_when(start_train(out, data_dir, epochs, stop_in_export=moment == "export"), ready, signal.SIGKILL)
    assert not (out / "saved_model").exists()  # never a half-written SavedModel under the final name
    result = resume_and_check(out, data_dir, epochs)
    assert "finished 3 epochs" in result.stdout


def small_run(tmp_path, data_dir):
    return {"batch_size": 64, "latent_dim": 4, "train_size": 128, "data_dir": str(data_dir),
            "out": str(tmp_path / "run"), "verbose": 0}


def test_a_truncated_checkpoint_falls_back_to_the_one_before(tmp_path, data_dir, capsys):
    flags = small_run(tmp_path, data_dir)
    run = tfgen.train("cvae", epochs=3, **flags)
    newest = sorted((run.path / "checkpoints").glob("ckpt-3.data-*"))[0]
    newest.write_bytes(newest.read_bytes()[:100])  # as a crash or a full disk would leave it
    tfgen.train("cvae", epochs=4, resume=True, **flags)
    err = capsys.readouterr().err
    assert "cannot read checkpoint" in err and "ckpt-3" in err and "trying the one before" in err
    assert [int(r["epoch"]) for r in read_rows(run.path)] == [1, 2, 3, 4]  # epoch 3 redone once
    assert_complete_run(run.path, 4)

    for data in (run.path / "checkpoints").glob("ckpt-*.data-*"):
        data.write_bytes(b"")
    with pytest.raises(RunDirError, match="no checkpoint can be read.*--overwrite"):
        tfgen.train("cvae", epochs=5, resume=True, **flags)


def test_a_torn_metrics_row_is_dropped_and_redone(tmp_path, data_dir):
    flags = small_run(tmp_path, data_dir)
    run = tfgen.train("cvae", epochs=2, **flags)
    with open(run.path / "metrics.csv", "a") as f:
        f.write("3,541.2")  # a crash in the middle of epoch 3's row
    tfgen.train("cvae", epochs=3, resume=True, **flags)
    assert [int(r["epoch"]) for r in read_rows(run.path)] == [1, 2, 3]
    assert_complete_run(run.path, 3)


@pytest.mark.parametrize("model, data", [
    ("cvae", "tiny"), ("gan", ["--train-size", "1024"]),
    # the moving average of the weights, and the optimizer's step count its warm-up reads
    ("diffusion", ["--data-dir", "DATA_DIR", "--train-size", "640", "--option", "widths=8", "--option", "blocks=1",
                   "--option", "steps=2", "--option", "ema=0.9"]),
    # the power iteration's u of every spectrally normalised layer
    ("sngan", ["--data-dir", "DATA_DIR", "--train-size", "512", "--option", "width=8"])])
def test_a_run_killed_in_epoch_2_and_resumed_equals_the_uninterrupted_run(tmp_path, data_dir, model, data):
    """Exact resume: the random-generator state is checkpointed and each epoch's data order comes from its number."""
    import numpy as np

    import tfgen

    data = ["--data-dir", str(data_dir)] if data == "tiny" else [str(data_dir) if a == "DATA_DIR" else a for a in data]
    args = [model, "--epochs", "3", *data, *TINY]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert run_train(*args, "--out", str(whole)).returncode == 0
    proc = subprocess.Popen([*TRAIN_PY, *args, "--out", str(killed)], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=train_env())
    signal_when(proc, checkpoint_written(killed, 1), signal.SIGKILL)
    assert len(read_rows(killed)) < 3
    result = run_train(*args, "--out", str(killed), "--resume")
    assert result.returncode == 0, result.stderr[-3000:]
    untimed = [{k: v for k, v in row.items() if k not in ("seconds", "images_per_s")} for row in read_rows(whole)]
    assert [{k: v for k, v in row.items() if k not in ("seconds", "images_per_s")} for row in read_rows(killed)] \
        == untimed
    for a, b in zip(tfgen.load(whole).model.get_weights(), tfgen.load(killed).model.get_weights()):
        np.testing.assert_array_equal(a, b)
