"""``tfgen evaluate RUN_DIR``: measure a run, print a table and write ``RUN_DIR/evaluation.json``.

    python -m tfgen.evaluate RUN_DIR [--data-dir DIR] [--num-samples N] [--k K] [--features classifier|inception]
                                     [--steps N] [--guidance W]
    python -m tfgen.evaluate train-classifier [--dataset NAME|PATH] [--data-dir DIR] [--retrain]
    (or: tfgen evaluate ...)

What is measured, and how, is :mod:`tfgen.evaluation`.
"""

from __future__ import annotations

import argparse
import json
from typing import Sequence

import tfgen
from tfgen import classifier as classifier_lib
from tfgen import data as data_lib
from tfgen.commands.common import positive, report
from tfgen.files import write_text
from tfgen.rundir import RunDir


def number(value: float | None, se: float | None, digits: int) -> str:
    """``value ± se`` to ``digits`` places; "not computed (too few images)" for None."""
    if value is None:
        return "not computed (too few images: see the warning)"
    return f"{value:.{digits}f}" + (f" ± {se:.{digits}f}" if se is not None else "")


def table(result: dict) -> str:
    """The result as a two-column Markdown table."""
    rows = [("model", result["model"]), ("epochs", result["epochs"])]
    if "steps" in result:
        rows.append(("sampling steps", result["steps"]))
    if "guidance" in result:
        rows.append(("guidance weight", result["guidance"]))
    if "likelihood" in result:
        lk = result["likelihood"]
        given = " | y" if lk["conditional"] else ""
        pixels = "binarized pixels" if lk.get("pixels", "binarized") == "binarized" else "Bernoulli on [0, 1] pixels"
        rows += [(f"test ELBO (nats, log p(x{given}) >=, {pixels})", f"{lk['elbo']:.2f} ± {lk['elbo_se']:.2f}"),
                 (f"test IWAE, K={lk['k']} (nats)", f"{lk['iwae']:.2f} ± {lk['iwae_se']:.2f}")]
    if "denoising" in result:
        d = result["denoising"]
        rows.append((f"test denoising loss ({d['kind']} of the predicted {d['target']}, moving average, "
                     f"{d['images']:,} images)", f"{d['loss']:.4f} ± {d['loss_se']:.4f}"))
    if "samples" in result:
        s = result["samples"]
        rows += [("samples scored (and real test images)", f"{s['num_samples']:,}"),
                 ("Fréchet classifier distance", number(s["frechet_distance"], s.get("frechet_distance_se"), 3)),
                 ("kernel classifier distance", number(s["kernel_distance"], s["kernel_distance_se"], 4)),
                 ("classifier score (real test set)",
                  f"{s['classifier_score']:.2f} ({s['real_classifier_score']:.2f})"),
                 ("class coverage", f"{s['class_coverage']:.3f}")]
        if "label_accuracy" in s:
            rows.append(("label accuracy", f"{s['label_accuracy']:.3f}"))
        clf = result["classifier"]
        rows.append((f"classifier test accuracy (trained on {clf['dataset']}, {clf['train_images']:,} images)",
                     f"{clf['test_accuracy']:.4f}"))
    if "inception" in result:
        s = result["inception"]
        rows += [("samples scored (and real test images)", f"{s['num_samples']:,}"),
                 ("FID (InceptionV3 pool features)", number(s["fid"], s.get("fid_se"), 3)),
                 ("KID (InceptionV3 pool features)", number(s["kid"], s["kid_se"], 4))]
    if "modes" in result:
        m = result["modes"]
        rows += [("modes covered", f"{int(m['modes_covered'])} of {m['num_modes']}"),
                 ("high-quality share", f"{m['high_quality']:.3f}")]
    if "note" in result:
        rows.append(("note", result["note"]))
    rows += [("warning", message) for message in result.get("warnings", [])]
    return "\n".join(["| metric | value |", "|---|---|", *(f"| {a} | {b} |" for a, b in rows)])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tfgen.evaluate",
        description="Evaluate a finished run (writes RUN_DIR/evaluation.json), or train the reference "
        "classifier of a data set: python -m tfgen.evaluate train-classifier [--dataset NAME|PATH] [--data-dir DIR] "
        "[--retrain]. The classifier scores use a small CNN trained on the run's own labelled data (once, then "
        "cached per data set).")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory, or train-classifier")
    parser.add_argument("--data-dir", metavar="DIR", help="folder with mnist.npz etc. (default: the run's)")
    parser.add_argument("--features", choices=("classifier", "inception"), default="classifier",
                        help="features of the distances: the data's own classifier (default), or InceptionV3's "
                        "ImageNet features for the standard FID/KID (only when its weights are in the Keras cache)")
    parser.add_argument("--dataset", metavar="NAME|PATH", default="mnist",
                        help="train-classifier: the data set to train it on (default: mnist)")
    parser.add_argument("--num-samples", type=positive, default=10_000, metavar="N",
                        help="generated images (and real test images) for the classifier scores (default 10000)")
    parser.add_argument("--k", type=positive, default=100, metavar="K",
                        help="importance samples per test image for the IWAE bound (default 100)")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="seeds the samples (default 0)")
    parser.add_argument("--steps", type=positive, metavar="N",
                        help="a diffusion model's sampling steps for the scores (default: the model's own)")
    parser.add_argument("--guidance", type=float, metavar="W",
                        help="cond_diffusion's classifier-free guidance weight for the scores, at least 0 (default: "
                        "the model's own)")
    parser.add_argument("--retrain", action="store_true", help="train-classifier: replace a cached classifier")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command; returns the exit status (2 for bad input)."""
    args = build_parser().parse_args(argv)

    def train_classifier() -> None:
        dataset = data_lib.load(args.dataset, args.data_dir)
        info = classifier_lib.train(dataset, retrain=args.retrain)
        print(f"classifier saved in {classifier_lib.classifier_dir(dataset)}: test accuracy "
              f"{info['test_accuracy']:.4f}")

    def evaluate() -> None:
        run = tfgen.load(args.run_dir, args.data_dir)
        result = run.evaluate(args.num_samples, args.k, args.seed, features=args.features, steps=args.steps,
                              guidance=args.guidance)
        path = RunDir(run.path).evaluation
        write_text(path, json.dumps(result, indent=2) + "\n")
        print(table(result))
        print(f"wrote {path}")

    return report(train_classifier if args.run_dir == "train-classifier" else evaluate)
