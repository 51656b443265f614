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
- diffusion models (``has("steps")``): the test set's denoising loss, the
  training loss (``loss`` of ``target``) of the moving average that samples at
  one time and noise per image drawn from ``seed``, for conditional models
  given the labels. Not bits/dim: see the README's "Diffusion" section;
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

import functools
import math
from pathlib import Path

import numpy as np

from tfgen import classifier as classifier_lib
from tfgen import data as data_lib
from tfgen.errors import ConfigError, warn
from tfgen.options import MAX_SAMPLING_STEPS
from tfgen.latent import each_class, in_batches
from tfgen import inception, metrics, quality

FEATURES = ("classifier", "inception")


def sample_inputs(model, n: int, seed) -> tuple[np.ndarray, np.ndarray | None]:
    """``n`` draws of the model's noise from ``seed``, and for conditional models each class equally often."""
    z = model.draw_noise(n, np.random.default_rng(seed))
    labels = each_class(n, model.num_classes) if model.has("conditional") else None
    return z, labels


def sample_scores(samples: np.ndarray, labels: np.ndarray | None, real: np.ndarray,
                  classifier: classifier_lib.Classifier) -> dict[str, float | None]:
    """Classifier-based scores of generated ``samples`` against ``real`` images (both in [0, 1]); the Fréchet
    distance is None from too few images (:func:`distances`)."""
    fake_feats, fake_probs = classifier(samples)
    real_feats, real_probs = classifier(real)
    fid, fid_se, kid, kid_se = distances(fake_feats, real_feats)
    scores = {
        "num_samples": len(samples),
        "frechet_distance": fid,
        "frechet_distance_se": fid_se,
        "kernel_distance": kid,
        "kernel_distance_se": kid_se,
        "classifier_score": quality.classifier_score(fake_probs),
        "real_classifier_score": quality.classifier_score(real_probs),
        "class_coverage": quality.class_coverage(fake_probs),
    }
    if labels is not None:
        scores["label_accuracy"] = quality.label_accuracy(fake_probs, labels)
    return scores


def distances(fake: np.ndarray, real: np.ndarray) -> tuple[float | None, float | None, float, float | None]:
    """Fréchet distance and its standard error, kernel distance and its standard error, of two feature sets.

    The Fréchet distance fits a covariance to each set: from no more images
    than the features have dimensions it is singular, and the distance says
    nothing (0.03 for noise against 20 real images). It is then None
    (:func:`too_few_for_frechet` says why).
    """
    kid, kid_se = quality.kernel_distance(fake, real)
    if too_few_for_frechet(min(len(fake), len(real)), fake.shape[1]):
        return None, None, kid, kid_se
    return quality.frechet_distance(fake, real), quality.frechet_distance_se(fake, real), kid, kid_se


def too_few_for_frechet(n: int, dimensions: int) -> str | None:
    """Why ``n`` images are too few for a Fréchet distance on ``dimensions`` features, or None."""
    if n > dimensions:
        return None
    return (f"the Fréchet distance is not computed from {n} images: a covariance of {dimensions} features needs more "
            f"than {dimensions} images (give more test images, and --num-samples above {dimensions})")


def weak_classifier(info: dict, num_classes: int) -> str | None:
    """Why a reference classifier with ``info``'s test accuracy says little, or None: nearer chance (one in
    ``num_classes``) than perfect."""
    chance = 1 / num_classes
    if info["test_accuracy"] >= (1 + chance) / 2:
        return None
    return (f"the reference classifier's test accuracy {info['test_accuracy']:.2f} is near chance ({chance:.2f} for "
            f"{num_classes} classes): its features tell these images apart poorly, so the distances, scores and "
            "coverage built on them mean little")


def evaluate(run, num_samples: int = 10_000, k: int = 100, seed: int = 0,
             classifier: classifier_lib.Classifier | None = None, cache: Path | None = None,
             features: str = "classifier", steps: int | None = None, guidance: float | None = None) -> dict:
    """Every metric that applies to ``run``'s model (a :class:`tfgen.Run`), as a JSON-ready dict.

    ``features``: ``classifier`` (the data's own classifier) or ``inception``
    (InceptionV3's ImageNet features; refused when its weights are not cached).
    ``steps``: a model that samples in steps (``has("steps")``) samples in that
    many (default: its own ``steps``); refused for any other.
    ``guidance``: a guided model (a conditional one that samples in steps:
    ``cond_diffusion``) samples with that classifier-free guidance weight
    (default: its own ``guidance``); refused for any other.
    """
    if features not in FEATURES:
        raise ValueError(f"unknown features {features!r}; choose one of: {', '.join(FEATURES)}")
    model = run.model
    result: dict = {"model": run.config["model"], "run_dir": str(run.path), "epochs": run.epochs,
                    "dataset": run.data_name}
    sample = model.sample
    if steps is not None and not model.has("steps"):
        raise ConfigError(f"--steps needs a model that samples in steps; {run.config['model']!r} samples in one pass")
    if steps is not None and not (isinstance(steps, int) and 1 <= steps <= MAX_SAMPLING_STEPS):
        raise ConfigError(f"--steps must be an integer from 1 to {MAX_SAMPLING_STEPS}; got {steps!r}")
    guided = model.has("steps") and model.has("conditional")
    if guidance is not None and not guided:
        raise ConfigError(f"--guidance needs a guided diffusion model (cond_diffusion); {run.config['model']!r} "
                          "has no guidance")
    if guidance is not None and not (math.isfinite(guidance) and guidance >= 0):
        raise ConfigError(f"--guidance must be a finite number, at least 0; got {guidance!r}")
    if model.has("steps"):
        result["steps"] = steps or model.steps
        if guided:
            result["guidance"] = model.guidance if guidance is None else float(guidance)
        sample = functools.partial(model.sample, steps=result["steps"], guidance=result.get("guidance"))
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
    if model.has("steps"):
        result["denoising"] = quality.denoising(model, data_lib.to_float(ds.x_test, model.input_range),
                                                ds.y_test if model.has("conditional") else None, seed=seed)
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
    samples, real = in_batches(sample, z, labels), data_lib.to_float(ds.x_test[:n], "unit")
    if features == "inception":
        result["inception"] = inception_scores(extractor, samples, real)
        caution(result, too_few_for_frechet(n, inception.FEATURES))
        return result
    classifier = classifier or classifier_lib.load_or_train(ds, cache)
    result["classifier"] = classifier.info
    result["samples"] = sample_scores(samples, labels, real, classifier)
    caution(result, weak_classifier(classifier.info, ds.num_classes))
    caution(result, too_few_for_frechet(n, classifier_lib.FEATURES))
    return result


def caution(result: dict, message: str | None) -> None:
    """Warns of ``message`` (when there is one) and keeps it in the result's ``warnings``."""
    if message:
        warn(message)
        result.setdefault("warnings", []).append(message)


def inception_scores(extractor, samples: np.ndarray, real: np.ndarray) -> dict[str, float | None]:
    """The standard FID and KID: Fréchet and kernel distance between InceptionV3 pool features."""
    fid, fid_se, kid, kid_se = distances(extractor(samples), extractor(real))
    return {"num_samples": len(samples), "fid": fid, "fid_se": fid_se, "kid": kid, "kid_se": kid_se,
            "weights": str(extractor.weights)}
