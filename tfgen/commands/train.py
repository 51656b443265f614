"""``python train.py MODEL [flags]`` (or ``tfgen [train] MODEL``): train a model; a thin layer over ``tfgen.train``."""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import sys
from pathlib import Path
from typing import Sequence

import tfgen
from tfgen import config as config_lib
from tfgen import options as options_lib
from tfgen import registry
from tfgen.rundir import RunDir
from tfgen.commands.common import report
from tfgen.settings import SETTINGS


def build_parser(prog: str = "train.py") -> argparse.ArgumentParser:
    """One flag per run setting (``tfgen.settings.SETTINGS``), and ``--list``, ``--resume``, ``--overwrite``,
    ``--allow-changed-data``."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Train a tfgen generative model and write its run directory: images/epoch_NNNN.png, "
        "progress.gif, loss.png, metrics.csv, config.json, checkpoints/ and saved_model/. "
        "The other commands: tfgen evaluate RUN_DIR (measure a run; --help for more), "
        "tfgen explore COMMAND RUN_DIR (latent-space tools: interpolate, retrieve, latent-map, reconstruct, "
        "compare, conditional-grid).",
        epilog="Flags left out take the model's defaults (see --list). Example: "
        "python train.py cvae --epochs 3 --train-size 5000 --data-dir DIR --out runs/try (DIR: a folder holding "
        "mnist.npz)",
    )
    parser.add_argument("model", nargs="?", help="model to train; --list shows them all")
    parser.add_argument("--list", action="store_true", help="list every registered model with its defaults and exit")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its last finished epoch (may change --epochs)")
    parser.add_argument("--overwrite", action="store_true", help="delete the run in --out and start afresh")
    parser.add_argument("--allow-changed-data", action="store_true",
                        help="with --resume: train on even when the data's images or labels are not those the run "
                        "trained on (refused otherwise)")
    for setting in SETTINGS:
        if setting.name == "options":
            parser.add_argument("--option", action="append", metavar=setting.metavar, help=setting.help)
        elif setting.type is bool:
            parser.add_argument(setting.flag, action=argparse.BooleanOptionalAction, default=None, help=setting.help)
        else:
            kind = setting.type if setting.type in (int, float) else str
            parser.add_argument(setting.flag, type=kind, metavar=setting.metavar, choices=setting.choices,
                                help=setting.help)
    return parser


def describe_models() -> str:
    """One line per registered model: name, what it is, its defaults."""
    lines = []
    for name in registry.names():
        cls = registry.get(name)
        summary = (cls.__doc__ or "").strip().splitlines()[0]
        d = config_lib.model_defaults(name)
        dataset = f", dataset {d['dataset']}" if "dataset" in d else ""
        xla = ", XLA" if cls.default_jit_compile else ""
        counterpart = f", compared with {cls.counterpart}" if cls.counterpart else ""
        lines.append(f"{name:<10} {summary} (epochs {d['epochs']}, batch {d['batch_size']}, "
                     f"latent {d['latent_dim']}, lr {d['lr']:g}{dataset}{xla}{counterpart})")
        lines += [f"{'':<10}   --option {option.usage()}" for option in options_lib.of(cls).values()]
    return "\n".join(lines)


# The files --list's text is made from (in tfgen/): while they are unchanged, the text kept in model_list.py is
# printed, without importing TensorFlow (4-16 s: every model is a Keras class).
LIST_SOURCES = ("models/*.py", "options.py", "config.py", "settings.py", "commands/train.py")


def _list_sources_digest() -> str:
    root = Path(tfgen.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(p for pattern in LIST_SOURCES for p in root.glob(pattern)):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def kept_model_list() -> str | None:
    """``--list``'s text as kept in ``model_list.py``, or None when a file it is made from has changed since."""
    from tfgen.commands import model_list

    return model_list.TEXT if model_list.SOURCES == _list_sources_digest() else None


def write_model_list() -> None:
    """Keeps ``--list``'s text in ``tfgen/commands/model_list.py`` (after a model or its options changed)."""
    path = Path(__file__).with_name("model_list.py")
    lines = "".join(f"    {line!r},\n" for line in describe_models().splitlines())
    path.write_text(f'''# ruff: noqa: E501
"""What ``train.py --list`` prints, kept so that it imports no TensorFlow; written by
``tfgen.commands.train.write_model_list()`` and used only while ``SOURCES`` (the sha256 of the files it is
made from, ``tfgen.commands.train.LIST_SOURCES``) matches them."""

SOURCES = {_list_sources_digest()!r}

TEXT = "\\n".join([
{lines}])
''')


def main(argv: Sequence[str] | None = None, prog: str = "train.py", invocation: str = "python train.py") -> int:
    """Runs the command; returns the exit status (2 for bad input).

    ``invocation``: how the user ran it (``python train.py``, ``tfgen train``), for the hint that resumes a run.
    """
    parser = build_parser(prog)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    out = args.out or os.path.join("runs", args.model or "")
    if args.list and (text := kept_model_list()):
        print(text)
        return 0

    def train() -> None:
        if args.list:
            print(describe_models())
            return
        if args.model is None:
            parser.error(f"name a model to train; choose one of: {', '.join(registry.names())}")
        if args.model not in registry.names():
            parser.error(f"unknown model {args.model!r}; choose one of: {', '.join(registry.names())}")
        options = config_lib.parse_options(args.option) if args.option else {}
        settings = {s.name: getattr(args, s.name) for s in SETTINGS if s.name != "options"}
        tfgen.train(args.model, resume=args.resume, overwrite=args.overwrite,
                    allow_changed_data=args.allow_changed_data, options=options, **settings)

    def resume_hint(multi_worker: bool) -> str | None:
        if not RunDir(out).config.is_file():
            return None
        return f"{invocation} {args.model} --out {shlex.quote(out)} --resume" + \
            (", on every worker" if multi_worker else "")  # quoted: pasted into a shell as it is

    return report(train, resume_hint)
