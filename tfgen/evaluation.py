"""How good is a trained model? The same numbers, computed the same way, for every model.

:func:`evaluate` computes what applies to a run's model (``Run.evaluate`` and
``tfgen evaluate`` call it):

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

from pathlib import Path

import numpy as np

from tfgen import classifier as classifier_lib
from tfgen import data as data_lib
from tfgen import metrics, quality

MNIST_SETS = ("mnist", "mnist-sample")


def sample_inputs(model, n: int, seed) -> tuple[np.ndarray, np.ndarray | None]:
    """``n`` codes z ~ N(0, I) drawn from ``seed``, and for conditional models each digit equally often."""
    z = np.random.default_rng(seed).standard_normal((n, model.latent_dim)).astype(np.float32)
    labels = (np.arange(n) % 10).astype(np.int32) if model.has("conditional") else None
    return z, labels


def generate(model, z: np.ndarray, labels: np.ndarray | None = None, batch_size: int = 1000) -> np.ndarray:
    """``model.sample`` of the codes (and labels), in batches, as one array."""
    out = [np.asarray(model.sample(z[i:i + batch_size], *(() if labels is None else (labels[i:i + batch_size],))))
           for i in range(0, len(z), batch_size)]
    return np.concatenate(out)


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


def evaluate(run, num_samples: int = 10_000, k: int = 100, seed: int = 0,
             classifier: classifier_lib.Classifier | None = None, cache: Path | None = None) -> dict:
    """Every metric that applies to ``run``'s model (a :class:`tfgen.Run`), as a JSON-ready dict."""
    model = run.model
    result: dict = {"model": run.config["model"], "run_dir": str(run.path), "epochs": run.epochs,
                    "dataset": run.data_name}
    ds = run.dataset()
    if model.has("points"):
        if ds.modes is None:
            result["note"] = f"{run.data_name} has no modes: only ring and grid have mode metrics"
            return result
        z, _ = sample_inputs(model, num_samples, seed)
        result["modes"] = {**metrics.mode_coverage(np.asarray(model.sample(z)), ds.modes, ds.mode_std),
                           "num_modes": len(ds.modes), "num_samples": num_samples}
        return result
    if model.has("likelihood"):
        conditional = model.has("conditional")
        x = data_lib.to_float(ds.x_test, "binarized")
        result["likelihood"] = {**quality.likelihood(model, x, ds.y_test if conditional else None, k, seed=seed),
                                "images": len(x), "conditional": conditional}
    if run.data_name not in MNIST_SETS:
        result["note"] = f"classifier scores need MNIST digits; this run trained on {run.data_name}"
        return result
    classifier = classifier or classifier_lib.load_or_train(ds, cache)
    result["classifier"] = classifier.info
    n = min(num_samples, len(ds.x_test))
    if n < num_samples:
        data_lib.warn(f"--num-samples {num_samples} is more than the {len(ds.x_test)} real test images of "
                      f"{run.data_name}: scoring {n} samples against {n} test images")
    z, labels = sample_inputs(model, n, seed)
    result["samples"] = sample_scores(generate(model, z, labels), labels, data_lib.to_float(ds.x_test[:n], "unit"),
                                      classifier)
    return result
