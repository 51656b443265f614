"""Quality metrics: likelihood bounds for the VAEs and classifier-based scores for any image generator.

The classifier-based scores take a classifier's penultimate features and
class probabilities (``tfgen.classifier``) as numpy arrays, so they are the
same for every model and testable on inputs whose answer is known.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from tfgen.latent import in_batches
from tfgen.losses import denoising_loss, elbo_terms

# ----- classifier-based scores -----


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (as FID, on the classifier's features).

    ||mu_a - mu_b||^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2)); the trace of the
    matrix square root is computed from the eigenvalues of the symmetric
    C_a^(1/2) C_b C_a^(1/2), which stays real and stable in float64.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = _sqrt_psd(cov_a)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0.0, None)).sum()
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * cross)


def frechet_distance_se(a: np.ndarray, b: np.ndarray, draws: int = 10, seed: int = 0) -> float:
    """The standard error of :func:`frechet_distance`: its standard deviation over ``draws`` bootstrap resamples
    (rows drawn with replacement) of both sets."""
    rng = np.random.default_rng(seed)
    values = [frechet_distance(a[rng.integers(0, len(a), len(a))], b[rng.integers(0, len(b), len(b))])
              for _ in range(draws)]
    return float(np.std(values, ddof=1))


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def kernel_distance(a: np.ndarray, b: np.ndarray, num_subsets: int = 100, subset_size: int = 1000,
                    seed: int = 0) -> tuple[float, float | None]:
    """Unbiased squared MMD with the cubic polynomial kernel (as KID), averaged over random subsets.

    k(x, y) = (x.y / d + 1)^3. Returns the mean over ``num_subsets`` subsets of
    ``subset_size`` rows from each set and its standard error. When both sets
    are no larger than a subset, every subset would hold the same rows: the
    estimate is computed once, and it has no standard error (None).
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise ValueError(f"kernel distance needs at least 2 samples in each set; got {len(a)} and {len(b)}")
    d = a.shape[1]
    rng = np.random.default_rng(seed)
    if m == len(a) == len(b):
        num_subsets = 1
    estimates = []
    for _ in range(num_subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        k_xx, k_yy, k_xy = ((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3)
        off_diagonal = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        estimates.append(off_diagonal - 2.0 * k_xy.mean())
    return float(np.mean(estimates)), (standard_error(np.asarray(estimates)) if num_subsets > 1 else None)


def standard_error(values: np.ndarray) -> float:
    """Standard error of the mean of ``values`` (NaN for fewer than two)."""
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else float("nan")


def classifier_score(probs: np.ndarray) -> float:
    """exp(E_x KL(p(y|x) || p(y))), the Inception Score computed with the data's own classifier (1 to K classes)."""
    p = np.clip(np.asarray(probs, np.float64), 1e-12, 1.0)
    marginal = p.mean(axis=0)
    return float(np.exp(np.mean(np.sum(p * (np.log(p) - np.log(marginal)), axis=1))))


def class_coverage(probs: np.ndarray) -> float:
    """Entropy of the histogram of predicted labels over log(K), K the classes of ``probs`` (N, K): in [0, 1],
    1 = every class equally often (1 for a single class)."""
    num_classes = probs.shape[1]
    if num_classes < 2:
        return 1.0
    counts = np.bincount(np.argmax(probs, axis=1), minlength=num_classes).astype(np.float64)
    share = counts / counts.sum()
    share = share[share > 0]
    return float(-(share * np.log(share)).sum() / math.log(num_classes))


def label_accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Share of images the classifier assigns to the label they were generated for."""
    return float(np.mean(np.argmax(probs, axis=1) == np.asarray(labels)))


# ----- likelihood of the VAEs -----


def log_importance_weights(model, x: tf.Tensor, labels: tf.Tensor | None, k: int,
                           rng: tf.random.Generator) -> tf.Tensor:
    """log p(x, z_k) - log q(z_k | x) for K samples z_k ~ q(z | x): shape (N, K).

    ``x`` is binarized; p(x | z) is the decoder's Bernoulli over pixels; for a
    conditional model every term is conditioned on the label.
    """
    label_args = (labels,) if model.has("conditional") else ()
    mean, logvar = model.encode(x, *label_args)
    n, d = tf.shape(mean)[0], tf.shape(mean)[1]
    eps = rng.normal(tf.stack([n, k, d]))
    z = tf.reshape(mean[:, None, :] + eps * tf.exp(0.5 * logvar)[:, None, :], (-1, d))  # (N * K, D): image by image
    repeated = (tf.repeat(labels, k),) if model.has("conditional") else ()
    each = lambda t: tf.repeat(t, k, axis=0)  # noqa: E731
    log_px_z, log_pz, log_qz_x = elbo_terms(each(x), model.decoder_logits(z, *repeated), z, each(mean), each(logvar))
    return tf.reshape(log_px_z + log_pz - log_qz_x, (n, k))


def denoising(model, x: np.ndarray, labels: np.ndarray | None, batch_size: int = 100, seed: int = 0) -> dict:
    """A diffusion model's denoising loss on the images ``x`` (in [-1, 1]), as it trains (its ``loss`` of its
    ``target``) but by the moving average that samples, conditional models given the true labels: one time
    t ~ U[0, 1) and one noise per image, drawn from ``seed`` so that every run of the same data meets the same
    ones. Returns the mean over images and its standard error."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(size=len(x)).astype(np.float32)
    eps = rng.standard_normal(x.shape, dtype=np.float32)

    def per_image(xb: np.ndarray, tb: np.ndarray, eb: np.ndarray, lb: np.ndarray | None = None) -> tf.Tensor:
        prediction, target = model.denoising(model.ema_network, tf.constant(xb), tf.constant(tb), tf.constant(eb),
                                             None if lb is None else tf.constant(lb, tf.int32))
        return denoising_loss(prediction, target, model.loss, axis=[1, 2, 3])

    losses = in_batches(per_image, x, t, eps, labels, batch_size=batch_size)
    return {"loss": float(losses.mean()), "loss_se": standard_error(losses), "kind": model.loss,
            "target": model.target, "images": len(x)}


def likelihood(model, x: np.ndarray, labels: np.ndarray | None, k: int, batch_size: int = 100,
               max_decodes: int = 20_000, seed: int = 0) -> dict[str, float]:
    """One-sample ELBO and the importance-weighted bound log p(x) >= IWAE_K, in nats per image.

    Each image gets K samples, drawn in chunks so that at most ``max_decodes``
    images are decoded at once (memory stays bounded for any K); an image's K
    weights are joined before their log-sum-exp. The ELBO uses each image's
    first sample.
    Returns the means over images and their standard errors.
    """
    rng = tf.random.Generator.from_seed(seed)
    chunk = max(1, min(k, max_decodes // batch_size))

    def bounds(xb: np.ndarray, lb: np.ndarray | None = None) -> np.ndarray:  # (n, 2): each image's ELBO and IWAE_K
        lb = None if lb is None else tf.constant(lb, tf.int32)
        w = tf.concat([log_importance_weights(model, tf.constant(xb), lb, min(chunk, k - done), rng)
                       for done in range(0, k, chunk)], axis=1)  # (n, K), decoded at most chunk * n at a time
        return tf.stack([w[:, 0], tf.reduce_logsumexp(w, axis=1) - math.log(k)], axis=1).numpy()

    elbo, iwae = in_batches(bounds, x, labels, batch_size=batch_size).T
    return {"elbo": float(elbo.mean()), "elbo_se": standard_error(elbo),
            "iwae": float(iwae.mean()), "iwae_se": standard_error(iwae), "k": k}
