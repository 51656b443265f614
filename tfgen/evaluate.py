"""How good is a trained model? The same numbers, computed the same way, for every model.

    python -m tfgen.evaluate RUN_DIR [--data-dir DIR] [--num-samples N] [--k K]
    python -m tfgen.evaluate train-classifier [--data-dir DIR] [--retrain]
    (or: tfgen evaluate ...)

Loads the run's newest checkpoint, computes what applies to its model, prints
a table and writes ``RUN_DIR/evaluation.json``:

- models with a Gaussian posterior and a pixel-probability decoder: the
  one-sample ELBO and the importance-weighted bound (IWAE, K samples) of
  log p(x) on the binarized test set, in nats, with standard errors
  (conditional models: log p(x | y));
- every MNIST image generator: Fréchet and kernel distance between the
  reference classifier's features of N generated and N real test images, the
  classifier score (with the real test set's beside it), class coverage, and
  for conditional models the classifier's accuracy on the requested labels;
- the toy 2-D GAN on ``ring``/``grid``: modes covered and high-quality share.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from tfgen import classifier as classifier_lib
from tfgen import config as config_lib
from tfgen import data as data_lib
from tfgen import metrics, quality
from tfgen.cli import positive
from tfgen.files import write_text
from tfgen.rundir import NotARunError, Run, load_run

MNIST_SETS = ("mnist", "mnist-sample")


def sample_inputs(model, n: int, seed) -> tuple[np.ndarray, np.ndarray | None]:
    """``n`` codes z ~ N(0, I) drawn from ``seed``, and for conditional models each digit equally often."""
    z = np.random.default_rng(seed).standard_normal((n, model.latent_dim)).astype(np.float32)
    labels = (np.arange(n) % 10).astype(np.int32) if model.conditional else None
    return z, labels


def generate(model, n: int, seed: int, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray | None]:
    """``n`` samples of :func:`sample_inputs`, generated in batches."""
    z, labels = sample_inputs(model, n, seed)
    out = [np.asarray(model.sample(z[i:i + batch_size], *(() if labels is None else (labels[i:i + batch_size],))))
           for i in range(0, n, batch_size)]
    return np.concatenate(out), labels


def sample_scores(samples: np.ndarray, labels: np.ndarray | None, real: np.ndarray,
                  classifier: classifier_lib.Classifier) -> dict[str, float]:
    """Classifier-based scores of generated ``samples`` against ``real`` images (both in [0, 1])."""
    fake_feats, fake_probs = classifier(samples)
    real_feats, real_probs = classifier(real)
    kid, kid_se = quality.kernel_distance(fake_feats, real_feats)
    scores = {
        "num_samples": len(samples),
        "frechet_distance": quality.frechet_distance(fake_feats, real_feats),
        "kernel_distance": kid,
        "kernel_distance_se": kid_se,
        "classifier_score": quality.classifier_score(fake_probs),
        "real_classifier_score": quality.classifier_score(real_probs),
        "class_coverage": quality.class_coverage(fake_probs),
    }
    if labels is not None:
        scores["label_accuracy"] = quality.label_accuracy(fake_probs, labels)
    return scores


def evaluate(run: Run, num_samples: int = 10_000, k: int = 100, seed: int = 0,
             classifier: classifier_lib.Classifier | None = None, cache: Path | None = None) -> dict:
    """Every metric that applies to the run's model, as a JSON-ready dict."""
    model = run.model
    result: dict = {"model": run.config.model, "run_dir": str(run.run_dir), "epochs": run.epochs,
                    "dataset": run.data_name}
    ds = data_lib.load(run.data_name, run.data_dir, seed=run.config.seed)
    if model.data_kind == "points":
        if ds.modes is None:
            result["note"] = f"{run.data_name} has no modes: only ring and grid have mode metrics"
            return result
        z, _ = sample_inputs(model, num_samples, seed)
        result["modes"] = {**metrics.mode_coverage(np.asarray(model.sample(z)), ds.modes, ds.mode_std),
                           "num_modes": len(ds.modes), "num_samples": num_samples}
        return result
    if getattr(model, "has_posterior", False):
        x = data_lib.to_float(ds.x_test, "binarized")
        result["likelihood"] = {**quality.likelihood(model, x, ds.y_test if model.conditional else None, k,
                                                     seed=seed),
                                "images": len(x), "conditional": model.conditional}
    if run.data_name not in MNIST_SETS:
        result["note"] = f"classifier scores need MNIST digits; this run trained on {run.data_name}"
        return result
    classifier = classifier or classifier_lib.load_or_train(run.data_dir, cache)
    result["classifier"] = classifier.info
    n = min(num_samples, len(ds.x_test))
    samples, labels = generate(model, n, seed)
    result["samples"] = sample_scores(samples, labels, data_lib.to_float(ds.x_test[:n], "unit"), classifier)
    return result


def table(result: dict) -> str:
    """The result as a two-column Markdown table."""
    rows = [("model", result["model"]), ("epochs", result["epochs"])]
    if "likelihood" in result:
        lk = result["likelihood"]
        given = " | y" if lk["conditional"] else ""
        rows += [(f"test ELBO (nats, log p(x{given}) >=)", f"{lk['elbo']:.2f} ± {lk['elbo_se']:.2f}"),
                 (f"test IWAE, K={lk['k']} (nats)", f"{lk['iwae']:.2f} ± {lk['iwae_se']:.2f}")]
    if "samples" in result:
        s = result["samples"]
        rows += [("Fréchet classifier distance", f"{s['frechet_distance']:.3f}"),
                 ("kernel classifier distance", f"{s['kernel_distance']:.4f} ± {s['kernel_distance_se']:.4f}"),
                 ("classifier score (real test set)",
                  f"{s['classifier_score']:.2f} ({s['real_classifier_score']:.2f})"),
                 ("class coverage", f"{s['class_coverage']:.3f}")]
        if "label_accuracy" in s:
            rows.append(("label accuracy", f"{s['label_accuracy']:.3f}"))
        rows.append(("classifier test accuracy", f"{result['classifier']['test_accuracy']:.4f}"))
    if "modes" in result:
        m = result["modes"]
        rows += [("modes covered", f"{int(m['modes_covered'])} of {m['num_modes']}"),
                 ("high-quality share", f"{m['high_quality']:.3f}")]
    if "note" in result:
        rows.append(("note", result["note"]))
    return "\n".join(["| metric | value |", "|---|---|", *(f"| {a} | {b} |" for a, b in rows)])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tfgen.evaluate",
        description="Evaluate a finished run (writes RUN_DIR/evaluation.json), or train the reference "
        "MNIST classifier: python -m tfgen.evaluate train-classifier [--data-dir DIR] [--retrain].")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory, or train-classifier")
    parser.add_argument("--data-dir", metavar="DIR", help="folder with mnist.npz (default: the run's)")
    parser.add_argument("--num-samples", type=positive, default=10_000, metavar="N",
                        help="generated images (and real test images) for the classifier scores (default 10000)")
    parser.add_argument("--k", type=positive, default=100, metavar="K",
                        help="importance samples per test image for the IWAE bound (default 100)")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="seeds the samples (default 0)")
    parser.add_argument("--retrain", action="store_true", help="train-classifier: replace a cached classifier")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command; returns the exit status (2 for bad input)."""
    args = build_parser().parse_args(argv)
    try:
        if args.run_dir == "train-classifier":
            dataset = data_lib.load("mnist", args.data_dir)
            info = classifier_lib.train(dataset, retrain=args.retrain)
            print(f"classifier saved in {classifier_lib.classifier_dir()}: test accuracy {info['test_accuracy']:.4f}")
            return 0
        result = evaluate(load_run(args.run_dir, args.data_dir), args.num_samples, args.k, args.seed)
    except (NotARunError, config_lib.ConfigError, data_lib.DataError, classifier_lib.ClassifierError) as e:
        print(f"tfgen: error: {e}", file=sys.stderr)
        return 2
    path = Path(args.run_dir) / "evaluation.json"
    write_text(path, json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
