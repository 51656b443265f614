"""How good is a trained model? The same numbers, computed the same way, for every model.

:func:`evaluate` computes what applies to a run's model (``Run.evaluate`` and
``tfgen evaluate`` call it):

- models with a Gaussian posterior and a pixel-probability decoder: the
  one-sample ELBO and the importance-weighted bound (IWAE, K samples) of
  log p(x) on the binarized test set, in nats, with standard errors
  (conditional models: log p(x | y));
  Under the run's own likelihood (``binarized`` or ``bernoulli``, see
  ``tfgen.models.base.Likelihood``): a Bernoulli cross-entropy on pixels in
  [0, 1] is not a density of continuous pixels, so those numbers compare runs
  with each other, not with published bits/dim;
- every image generator on labelled data: Fréchet and kernel distance between
  the features of N generated and N real test images under a classifier
  trained on the run's own data (``tfgen.classifier``, cached per data set),
  the classifier score (with the real test set's beside it), class coverage,
  and for conditional models the classifier's accuracy on the requested
  labels. Unlabelled data has no such classifier: these scores are skipped
  with a note saying so;
- with ``features="inception"``: the standard FID and KID on InceptionV3's
  pool features, when its ImageNet weights are in the Keras cache (``tfgen.inception``);
- the toy 2-D GAN on ``ring``/``grid``: modes covered and high-quality share.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tfgen import classifier as classifier_lib
from tfgen import data as data_lib
from tfgen.errors import warn
from tfgen.latent import each_class, in_batches
from tfgen import inception, metrics, quality

FEATURES = ("classifier", "inception")


def sample_inputs(model, n: int, seed) -> tuple[np.ndarray, np.ndarray | None]:
    """``n`` codes z ~ N(0, I) drawn from ``seed``, and for conditional models each class equally often."""
    z = np.random.default_rng(seed).standard_normal((n, model.latent_dim)).astype(np.float32)
    labels = each_class(n, model.num_classes) if model.has("conditional") else None
    return z, labels


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
             classifier: classifier_lib.Classifier | None = None, cache: Path | None = None,
             features: str = "classifier") -> dict:
    """Every metric that applies to ``run``'s model (a :class:`tfgen.Run`), as a JSON-ready dict.

    ``features``: ``classifier`` (the data's own classifier) or ``inception``
    (InceptionV3's ImageNet features; refused when its weights are not cached).
    """
    if features not in FEATURES:
        raise ValueError(f"unknown features {features!r}; choose one of: {', '.join(FEATURES)}")
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
        x = data_lib.to_float(ds.x_test, model.likelihood_range)
        result["likelihood"] = {**quality.likelihood(model, x, ds.y_test if conditional else None, k, seed=seed),
                                "images": len(x), "conditional": conditional,
                                "pixels": model.likelihood_range}
    n = min(num_samples, len(ds.x_test))
    if features == "inception":
        extractor = inception.Features()  # refuses, naming what it looked for, when the weights are not cached
    elif not ds.num_classes:
        result["note"] = (f"{run.data_name} has no labels, so there is no classifier of its own to score samples "
                          "with (distances, classifier score, coverage skipped); --features inception gives the "
                          "standard FID/KID when InceptionV3's ImageNet weights are in the Keras cache")
        return result
    if n < num_samples:
        warn(f"--num-samples {num_samples} is more than the {len(ds.x_test)} real test images of "
                      f"{run.data_name}: scoring {n} samples against {n} test images")
    z, labels = sample_inputs(model, n, seed)
    samples, real = in_batches(model.sample, z, labels), data_lib.to_float(ds.x_test[:n], "unit")
    if features == "inception":
        result["inception"] = inception_scores(extractor, samples, real)
        return result
    classifier = classifier or classifier_lib.load_or_train(ds, cache)
    result["classifier"] = classifier.info
    result["samples"] = sample_scores(samples, labels, real, classifier)
    return result


def inception_scores(extractor, samples: np.ndarray, real: np.ndarray) -> dict[str, float]:
    """The standard FID and KID: Fréchet and kernel distance between InceptionV3 pool features."""
    fake_feats, real_feats = extractor(samples), extractor(real)
    kid, kid_se = quality.kernel_distance(fake_feats, real_feats)
    return {"num_samples": len(samples), "fid": quality.frechet_distance(fake_feats, real_feats), "kid": kid,
            "kid_se": kid_se, "weights": str(extractor.weights)}
