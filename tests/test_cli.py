"""Bad input: a short message naming the problem, exit status 2, no run directory left behind."""

import json
import os
import shlex
import signal
import re
import subprocess

import pytest

from tfgen import registry
from tfgen.errors import TrainingStopped
from tfgen.commands import main
from tfgen.commands.train import build_parser

from conftest import REPO, TRAIN_PY, class_folders, make_run, run_train, train_env

ALL = ", ".join(registry.names())


def cli(*args):
    try:
        return main(list(args))
    except SystemExit as e:  # argparse's usage errors
        return e.code


@pytest.mark.parametrize(
    "args, message",
    [
        (["nope"], f"unknown model 'nope'; choose one of: {ALL}"),
        ([], f"name a model to train; choose one of: {ALL}"),
        (["cvae", "--dataset", "cifar"], "unknown dataset 'cifar'; choose one of: mnist, mnist-sample, fashion-mnist, "
                                         "cifar10, ring, moons, spiral, grid, or the path of a folder of images or "
                                         "an .npz file"),
        (["cvae", "--dataset", "ring"], "model 'cvae' trains on images, not on 'ring'; choose --dataset from: mnist, "
                                        "mnist-sample, fashion-mnist"),
        (["gan", "--dataset", "mnist"], "model 'gan' trains on points, not on 'mnist'; choose --dataset from: ring, "
                                        "moons, spiral, grid"),
        (["cvae", "--epochs", "0"], "--epochs must be a positive integer; got 0"),
        (["cvae", "--batch-size", "-4"], "--batch-size must be a positive integer; got -4"),
        (["cvae", "--latent-dim", "0"], "--latent-dim must be a positive integer; got 0"),
        (["cvae", "--train-size", "0"], "--train-size must be a positive integer; got 0"),
        (["cvae", "--lr", "0"], "--lr must be a positive, finite number; got 0.0"),
        (["cvae", "--lr", "nan"], "--lr must be a positive, finite number; got nan"),
        (["cvae", "--lr", "inf"], "--lr must be a positive, finite number; got inf"),
        (["cvae", "--seed", "-1"], "--seed must be an integer from 0 to 4294967295; got -1"),
        (["cvae", "--seed", str(2**32)], "--seed must be an integer from 0 to 4294967295; got 4294967296"),
        (["cvae", "--latent-dim", "1000000000"], "--latent-dim must be at most 10,000; got 1,000,000,000"),
        (["cvae", "--epochs", "three"], "argument --epochs: invalid int value: 'three'"),
        (["gan", "--epochs", str(10**20)], "--epochs must be at most 1,000,000; got 100,000,000,000,000,000,000"),
        (["cvae", "--batch-size", str(2**21)], "--batch-size must be at most 1,048,576; got 2,097,152"),
        (["cvae", "--eval-every", str(10**7)], "--eval-every must be at most 1,000,000; got 10,000,000"),
        (["vae", "--option", "hidden=99999999999999999999"],
         "--option hidden='99999999999999999999' is not allowed; it takes an integer from 2 to 65536"),
        (["cvae", "--option", "filters=100000"], "--option filters='100000' is not allowed; it takes an integer from 1 "
         "to 1024"),
        (["cvae", "--resume", "--overwrite"], "--resume and --overwrite exclude each other"),
        (["cvae", "--option", "fake_draw=onehot"], "model 'cvae' has no option 'fake_draw'; its options: filters"),
        (["cvae_gan", "--option", "fake_draws=onehot"],
         "model 'cvae_gan' has no option 'fake_draws'; its options: filters, fake_draw, recon_weighting"),
        (["gan", "--option", "pack=3"], "--option pack='3' is not allowed; choose one of: 1, 2, 4"),
        (["vae", "--option", "hidden=1.5"],
         "--option hidden='1.5' is not allowed; it takes an integer from 2 to 65536"),
        (["ae", "--option", "momentum=2"],
         "--option momentum='2' is not allowed; it takes a finite number from 0 to 1"),
        (["cvae_gan", "--option", "fake_draw=uniform"],
         "--option fake_draw='uniform' is not allowed; choose one of: onehot, reference"),
        (["cvae_gan", "--option", "fake_draw"], "--option takes NAME=VALUE; got 'fake_draw'"),
    ],
)
def test_bad_flags_exit_2_with_a_message_and_leave_no_run_dir(tmp_path, data_dir, capsys, args, message):
    out = tmp_path / "run"
    assert cli(*args, "--out", str(out), "--data-dir", str(data_dir)) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert not out.exists()


def test_missing_data_file_names_it_and_leaves_no_run_dir(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli("cvae", "--data-dir", str(tmp_path), "--out", str(out)) == 2
    assert "mnist.npz: no such file" in capsys.readouterr().err
    assert not out.exists()


def test_malformed_data_file_names_it_and_leaves_no_run_dir(tmp_path, capsys):
    (tmp_path / "mnist.npz").write_bytes(b"\x00" * 100)
    out = tmp_path / "run"
    assert cli("cvae", "--data-dir", str(tmp_path), "--out", str(out)) == 2
    assert "mnist.npz: not an npz file" in capsys.readouterr().err
    assert not out.exists()


def fake_run(folder):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"config": {"model": "cvae"}}))
    (folder / "keep.txt").write_text("precious")


def test_existing_run_is_refused_without_resume_or_overwrite(tmp_path, data_dir, capsys):
    out = tmp_path / "run"
    fake_run(out)
    assert cli("cvae", "--data-dir", str(data_dir), "--out", str(out)) == 2
    assert "already holds a run; pass --resume to continue it (--resume --epochs N trains it to N epochs in all) " \
        "or --overwrite to replace it" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "precious"


def test_a_folder_that_is_not_a_run_is_never_deleted(tmp_path, data_dir, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    assert cli("cvae", "--data-dir", str(data_dir), "--out", str(out), "--overwrite") == 2
    assert "is not empty and is not a tfgen run" in capsys.readouterr().err
    assert (out / "thesis.tex").read_text() == "years of work"


def test_out_that_is_a_file_is_refused(tmp_path, data_dir, capsys):
    out = tmp_path / "file"
    out.write_text("x")
    assert cli("cvae", "--data-dir", str(data_dir), "--out", str(out)) == 2
    assert f"--out {out} is a file" in capsys.readouterr().err


def test_out_that_cannot_be_created_is_refused_before_training(tmp_path, data_dir, capsys):
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "run"
    assert cli("cvae", "--data-dir", str(data_dir), "--out", str(out)) == 2
    assert f"cannot create or write to the run directory {out}" in capsys.readouterr().err


def test_an_existing_directory_that_cannot_be_written_is_refused_before_training(tmp_path, data_dir, capsys):
    out = tmp_path / "run"
    out.mkdir()
    if os.geteuid() == 0:  # root writes through permissions (CI runs as root), not into an immutable directory
        made = subprocess.run(["chattr", "+i", str(out)], capture_output=True, text=True)
        if made.returncode != 0:
            pytest.skip(f"as root this needs chattr +i, which failed here: {made.stderr.strip()}")
        undo = ["chattr", "-i", str(out)]
    else:
        out.chmod(0o555)
        undo = ["chmod", "755", str(out)]
    try:
        assert cli("cvae", "--epochs", "1", "--data-dir", str(data_dir), "--out", str(out)) == 2
        assert f"cannot create or write to the run directory {out}" in capsys.readouterr().err
        assert list(out.iterdir()) == []
    finally:
        subprocess.run(undo, check=True)


def test_list_shows_every_model_with_its_defaults(capsys):
    assert cli("--list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines if not line.startswith(" ")] == registry.names()
    cvae = next(line for line in lines if line.startswith("cvae "))
    assert "epochs 100, batch 100, latent 50, lr 0.0001" in cvae
    after = lines[lines.index(next(line for line in lines if line.startswith("cvae_gan "))) + 1:]
    assert after[0].split() == ["--option", "filters=INT", "(from", "1", "to", "1024)", "(default", "16)"]
    assert after[1].split() == ["--option", "fake_draw=onehot|reference", "(default", "onehot)"]
    assert after[2].split() == ["--option", "recon_weighting=sum|reference", "(default", "sum)"]
    gan = lines[lines.index(next(line for line in lines if line.startswith("gan "))) + 1:]
    assert [line.split()[1] for line in gan[:3]] == ["hidden=INT", "pack=1|2|4", "beta_1=FLOAT"]


def test_the_kept_model_list_is_the_models_description_of_today():
    from tfgen.commands import model_list
    from tfgen.commands.train import _list_sources_digest, describe_models

    fix = "run: python -c 'from tfgen.commands.train import write_model_list; write_model_list()'"
    assert model_list.SOURCES == _list_sources_digest(), f"a model or its options changed: {fix}"
    assert model_list.TEXT == describe_models(), fix


def test_list_imports_no_tensorflow_and_a_stale_kept_list_is_made_afresh(capsys, monkeypatch):
    from tfgen.commands import model_list
    from tfgen.commands.train import describe_models

    hide = "import sys, runpy; sys.modules['tensorflow'] = sys.modules['keras'] = None; "
    result = subprocess.run([TRAIN_PY[0], "-c", hide + "sys.argv = ['train.py', '--list']; "
                             "runpy.run_path('train.py', run_name='__main__')"],
                            cwd=REPO, env=train_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout == describe_models() + "\n" and result.stderr == ""
    monkeypatch.setattr(model_list, "SOURCES", "a file it was made from has changed since")
    monkeypatch.setattr(model_list, "TEXT", "stale")
    assert cli("--list") == 0
    assert capsys.readouterr().out == describe_models() + "\n"


def test_options_take_their_types_and_old_string_values_still_load():
    from tfgen import config

    cfg = config.resolve("gan", {"options": {"pack": "2", "beta_1": "0.25", "hidden": 64}})
    assert cfg.options == {"hidden": 64, "pack": 2, "beta_1": 0.25}
    assert type(cfg.options["beta_1"]) is float
    # A config.json written before options were typed holds strings ("pack": "1"): it reads back typed.
    old = config.from_doc({"config": {**cfg.to_dict(), "options": {"pack": "1"}}}, "config.json")
    assert old.options == {"pack": 1}
    with pytest.raises(ValueError, match=r"config.json holds a value that is not allowed \(its message for the flag: "
                       r"--option pack='3' is not allowed; choose one of: 1, 2, 4\); it was edited or damaged"):
        config.from_doc({"config": {**cfg.to_dict(), "options": {"pack": "3"}}}, "config.json")
    assert config.resolve("ae", {"options": {"momentum": 0}}).options["momentum"] == 0.0
    with pytest.raises(ValueError, match="--option momentum=True is not allowed; it takes a finite number from 0 to 1"):
        config.resolve("ae", {"options": {"momentum": True}})


@pytest.mark.parametrize("name, good, typed, bad, message", [
    ("epochs", 3.0, 3, 2.5, "--epochs must be of type int; got 2.5"),
    ("epochs", "3", 3, True, "--epochs must be of type int; got True"),
    ("jit_compile", "false", False, "maybe", "--jit-compile must be of type bool; got 'maybe'"),
    ("precision", "float32", "float32", "float64", "unknown --precision 'float64'; choose one of: float32"),
    ("hidden", 64.0, 64, True, "--option hidden=True is not allowed; it takes an integer from 1 to 65536"),
    ("pack", "2", 2, 2.5, "--option pack=2.5 is not allowed; choose one of: 1, 2, 4"),
    ("beta_1", "0.5", 0.5, "inf", "--option beta_1='inf' is not allowed; it takes a finite number from 0 to 0.9999"),
])
def test_settings_and_options_are_typed_and_checked_one_way(name, good, typed, bad, message):
    """One validator (tfgen.values.Value): a string is parsed, a whole float is an integer, a bool is never a
    number, choices and bounds hold."""
    from tfgen import config

    def given(value):
        return {name: value} if name in config.RunConfig.__dataclass_fields__ else {"options": {name: value}}

    cfg = config.resolve("gan", given(good))
    value = getattr(cfg, name) if name in config.RunConfig.__dataclass_fields__ else cfg.options[name]
    assert value == typed and type(value) is type(typed)
    with pytest.raises(ValueError, match=re.escape(message)):
        config.resolve("gan", given(bad))


@pytest.mark.slow  # trains four times
def test_options_are_recorded_with_their_defaults_and_fixed_on_resume(tmp_path, data_dir, capsys):
    import tfgen

    out = tmp_path / "run"
    run = tfgen.train("cvae_gan", epochs=1, batch_size=64, data_dir=str(data_dir), out=str(out), train_size=64,
                      fake_draw="reference", verbose=0)
    assert run.config["options"] == {"filters": 16, "fake_draw": "reference", "recon_weighting": "sum",
                                     "likelihood": "auto"}
    saved = json.loads((out / "config.json").read_text())["config"]["options"]
    assert saved == {"filters": 16, "fake_draw": "reference", "recon_weighting": "sum", "likelihood": "auto"}
    # Naming the same value again is fine; changing an option is refused.
    assert cli("cvae_gan", "--out", str(out), "--resume", "--epochs", "1", "--option", "fake_draw=reference") == 0
    assert cli("cvae_gan", "--out", str(out), "--resume", "--epochs", "2", "--option", "recon_weighting=reference") == 2
    assert "a resumed run may change only" in capsys.readouterr().err
    # Output-only switches may change on resume, both ways.
    assert cli("cvae_gan", "--out", str(out), "--resume", "--epochs", "2", "--tensorboard") == 0
    assert json.loads((out / "config.json").read_text())["config"]["tensorboard"] is True
    assert (out / "tensorboard").is_dir()
    assert cli("cvae_gan", "--out", str(out), "--resume", "--epochs", "2", "--no-tensorboard") == 0
    assert json.loads((out / "config.json").read_text())["config"]["tensorboard"] is False


def test_xla_and_steps_per_execution_default_per_model_and_can_be_switched():
    from tfgen import config as config_lib

    assert config_lib.resolve("vae", {}).jit_compile is True  # measured faster with XLA
    assert config_lib.resolve("cvae", {}).jit_compile is False  # measured slower
    assert config_lib.resolve("vae", {"jit_compile": False}).jit_compile is False
    args = build_parser().parse_args(["vae", "--no-jit-compile"])
    assert args.jit_compile is False and build_parser().parse_args(["vae"]).jit_compile is None
    model = registry.get("vae")(latent_dim=4, learning_rate=1e-3)
    model.compile()
    assert model.steps_per_execution == registry.get("vae").default_steps_per_execution > 1
    model.compile(jit_compile=False, steps_per_execution=1)
    assert model.steps_per_execution == 1 and not model.jit_compile


def test_help_documents_every_flag():
    from tfgen.settings import SETTINGS

    text = build_parser().format_help()
    flags = ["--list", "--resume", "--overwrite", "--allow-changed-data", "--option"]
    for setting in SETTINGS:
        if setting.name != "options":
            flags += [setting.flag] + ([f"--no-{setting.flag[2:]}"] if setting.type is bool else [])
    assert len(flags) == 24
    for flag in flags:
        assert f"{flag} " in text or f"{flag}\n" in text or f"{flag}," in text, flag
    for setting in SETTINGS:
        assert " ".join(setting.help.split()[:4]) in " ".join(text.split()), setting.name


@pytest.mark.slow  # train.py subprocesses
def test_the_real_script_reports_bad_input_in_one_line(tmp_path):
    # As a user runs it: TensorFlow's C++ start-up logs are not asked for, so none comes before the message.
    env = {k: v for k, v in train_env().items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([*TRAIN_PY, "cvae", "--epochs", "-1", "--out", str(tmp_path / "run")], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr == "tfgen: error: --epochs must be a positive integer; got -1\n"
    result = run_train("gan-of-my-dreams", timeout=120)
    assert result.returncode == 2 and f"choose one of: {ALL}" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("raised, status", [
    (lambda: TrainingStopped(signal.SIGTERM, 2, checkpoint="RUN/checkpoints/ckpt-1"), 143),
    (lambda: KeyboardInterrupt(), 130),  # a second Ctrl-C, or one before training started
])
def test_a_stopped_run_prints_one_resume_command_quoted_for_the_shell(tmp_path, monkeypatch, capsys, raised, status):
    import tfgen

    out = tmp_path / "my runs" / "it's"

    def stopped(*args, **kwargs):
        out.mkdir(parents=True)
        (out / "config.json").write_text("{}")  # the run had started
        raise raised()

    monkeypatch.setattr(tfgen, "train", stopped)
    monkeypatch.setattr("sys.argv", ["/usr/local/bin/tfgen"])  # as the installed command
    assert cli("cvae", "--out", str(out)) == status
    err = capsys.readouterr().err
    assert err.count("--resume") == 1 and "Traceback" not in err
    command = err.split("Continue with: " if status == 143 else "epoch with: ", 1)[1].strip()
    assert shlex.split(command)[:6] == ["tfgen", "train", "cvae", "--out", str(out), "--resume"]


@pytest.mark.parametrize("program, typed", [("train.py", "python train.py"), ("/repo/train.py", "python train.py"),
                                            ("/usr/bin/tfgen", "tfgen train"),
                                            ("/site-packages/tfgen/__main__.py", "python -m tfgen train"),
                                            ("/site-packages/pytest/__main__.py", "tfgen train")])
def test_the_resume_hint_names_the_command_the_user_ran(program, typed):
    from tfgen.commands import invoked_as

    assert invoked_as(program)[1] == typed


def test_ctrl_c_before_the_run_started_says_there_is_nothing_to_resume(tmp_path, monkeypatch, capsys):
    from tfgen.commands import common

    def interrupted():
        raise KeyboardInterrupt  # as Ctrl-C while TensorFlow loads

    monkeypatch.setattr(common, "load_tensorflow", interrupted)
    assert cli("cvae", "--out", str(tmp_path / "run")) == 130
    err = capsys.readouterr().err
    assert "interrupted; the run had not started, and nothing of it was written" in err
    assert "--resume" not in err and "Traceback" not in err


def test_tfgen_help_lists_its_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "usage: tfgen [train]" in text
    assert "tfgen evaluate RUN_DIR" in text and "tfgen explore COMMAND RUN_DIR" in text


def test_a_batch_larger_than_the_training_set_is_said(tmp_path, data_dir, capsys):
    from tfgen import config, distribute, training

    cfg = config.resolve("cvae", {"epochs": 1, "batch_size": 1000, "data_dir": str(data_dir),
                                       "out": str(tmp_path / "run")})
    plan = training.make_plan(cfg, distribute.make_strategy("auto"), None, resume=False, overwrite=False)
    plan.lock.release()
    assert "--batch-size 1000 is more than the 256 training images: each epoch is one batch of 256" in \
        capsys.readouterr().err


def test_an_out_that_is_not_utf8_is_refused_and_not_created(tmp_path, data_dir, capsys):
    out = str(tmp_path) + "/caf\udce9"  # the byte 0xe9 on a UTF-8 command line, as Python passes it on
    assert cli("cvae", "--data-dir", str(data_dir), "--out", out) == 2
    assert "--out must be a path of UTF-8 characters; got '" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_a_bad_value_in_config_json_is_named_as_the_files(tmp_path, data_dir, capsys):
    out = make_run(tmp_path / "run", "cvae", latent_dim=4, data_dir=str(data_dir))
    doc = json.loads((out / "config.json").read_text())
    doc["config"]["epochs"] = "three"
    (out / "config.json").write_text(json.dumps(doc))
    assert cli("cvae", "--out", str(out), "--resume", "--epochs", "3") == 2
    err = capsys.readouterr().err
    assert f"the run configuration {out / 'config.json'} holds a value that is not allowed" in err
    assert "it was edited or damaged" in err


@pytest.mark.parametrize("args, memory, message", [
    (["vae", "--image-size", "2048"], None, "vae on 2048x2048x3 images has 12,897,786,980 weights and needs at least "),
    (["cvae", "--option", "filters=64"], 2**20, "; this machine has 0.0 GiB: lower --image-size, --batch-size, "
                                                 "--option filters (now 64)"),
])
def test_a_network_too_large_for_the_machine_is_refused_before_anything_is_written(tmp_path, capsys, monkeypatch,
                                                                                   args, memory, message):
    from tfgen import footprint

    if memory:
        monkeypatch.setattr(footprint, "machine_bytes", lambda: memory)
    out = tmp_path / "run"
    data = class_folders(tmp_path / "pictures", per_class=2)
    assert cli(*args, "--dataset", str(data), "--out", str(out), "--epochs", "1") == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("command, module", [(["train.py", "vae"], "tensorflow"),
                                             (["-m", "tfgen", "explore", "samples", "runs/x"], "imageio")])
def test_a_python_without_the_dependencies_gets_one_line_saying_which_python_to_use(command, module):
    """As when the README's commands are typed with a Python outside tfgen's environment."""
    hide = f"import sys, runpy; sys.modules[{module!r}] = None; "  # what import finds in a Python without it
    run = ["-c", hide + (f"sys.argv = {command}; runpy.run_path('train.py', run_name='__main__')"
                         if command[0] == "train.py" else
                         f"sys.argv = ['tfgen', *{command[2:]}]; runpy.run_module('tfgen', run_name='__main__')")]
    result = subprocess.run([TRAIN_PY[0], *run], cwd=REPO, env=train_env(), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"tfgen: error: this Python ({TRAIN_PY[0]}) has no module {module!r}, which tfgen needs: run tfgen with the "
        "Python of the environment it was installed into (.venv/bin/python, or `. .venv/bin/activate` first), or "
        "install tfgen into this one (pip install -e . in the clone)"]
