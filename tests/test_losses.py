import math

import numpy as np
import pytest
import tensorflow as tf

from tfgen.losses import (batch_l2_norm, bernoulli_log_likelihood, gaussian_kl, gradient_penalty,
                          hinge_discriminator_loss, hinge_generator_loss, interpolate, log_normal_pdf,
                          minimax_discriminator_loss, minimax_generator_loss, non_saturating_generator_loss,
                          squared_error, vae_objective, wasserstein_critic_loss, wasserstein_generator_loss)


def test_log_normal_pdf_matches_hand_computed_values():
    sample = tf.constant([[0.0, 1.0], [2.0, -1.0]])
    mean = tf.constant([[0.0, 0.0], [1.0, 1.0]])
    logvar = tf.constant([[0.0, math.log(4.0)], [0.0, 0.0]])
    got = log_normal_pdf(sample, mean, logvar).numpy()
    # N(0|0,1) + N(1|0,4); N(2|1,1) + N(-1|1,1)
    expected = [
        -0.5 * math.log(2 * math.pi) + (-0.5 * (1.0 / 4.0 + math.log(4.0) + math.log(2 * math.pi))),
        (-0.5 * (1.0 + math.log(2 * math.pi))) + (-0.5 * (4.0 + math.log(2 * math.pi))),
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_log_normal_pdf_standard_normal_broadcasts_scalars():
    z = tf.zeros((3, 5))
    np.testing.assert_allclose(log_normal_pdf(z, 0.0, 0.0).numpy(), [-2.5 * math.log(2 * math.pi)] * 3, rtol=1e-6)


def test_bernoulli_log_likelihood_sums_pixels_per_example():
    x = tf.constant([[[[1.0], [0.0]]], [[[1.0], [1.0]]]])  # (2, 1, 2, 1)
    logits = tf.constant([[[[0.0], [0.0]]], [[[math.log(3.0)], [-math.log(3.0)]]]])
    got = bernoulli_log_likelihood(x, logits).numpy()
    # sigmoid(0) = 1/2; sigmoid(log 3) = 3/4, sigmoid(-log 3) = 1/4
    expected = [2 * math.log(0.5), math.log(0.75) + math.log(0.25)]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


@pytest.mark.parametrize("logit", [80.0, -80.0])
def test_bernoulli_log_likelihood_is_stable_for_large_logits(logit):
    x = tf.constant([[[[1.0]]]])
    got = bernoulli_log_likelihood(x, tf.constant([[[[logit]]]])).numpy()[0]
    assert np.isfinite(got)
    np.testing.assert_allclose(got, 0.0 if logit > 0 else -80.0, atol=1e-6)


def test_squared_error_sums_pixels_per_example():
    x = tf.constant([[[[1.0], [0.0]]], [[[0.5], [0.5]]]])
    x_hat = tf.constant([[[[0.0], [0.0]]], [[[0.0], [1.0]]]])
    np.testing.assert_allclose(squared_error(x, x_hat).numpy(), [1.0, 0.5])


def test_gaussian_kl_matches_hand_computed_values():
    mean = tf.constant([[0.0, 0.0], [1.0, 0.0]])
    logvar = tf.constant([[0.0, 0.0], [0.0, math.log(2.0)]])
    # KL = 0.5 * sum(var + mean^2 - 1 - log var)
    expected = [0.0, 0.5 * (1.0 + 1.0 - 1.0 - 0.0) + 0.5 * (2.0 - 1.0 - math.log(2.0))]
    np.testing.assert_allclose(gaussian_kl(mean, logvar).numpy(), expected, rtol=1e-6)


def test_gaussian_kl_equals_the_monte_carlo_estimate_in_expectation():
    mean, logvar = tf.constant([[0.3, -1.0]]), tf.constant([[0.2, -0.5]])
    z = mean + tf.exp(0.5 * logvar) * tf.random.normal((200000, 2), seed=1)
    mc = tf.reduce_mean(log_normal_pdf(z, mean, logvar) - log_normal_pdf(z, 0.0, 0.0))
    np.testing.assert_allclose(float(mc), float(gaussian_kl(mean, logvar)[0]), atol=0.02)


def test_batch_l2_norm_is_one_number_for_the_whole_batch():
    z = tf.constant([[3.0, 0.0], [0.0, 4.0]])
    assert float(batch_l2_norm(z)) == 5.0


def test_vae_objective_weights_the_kl_and_averages_over_the_batch():
    x = tf.constant([[[[1.0], [0.0]]], [[[0.5], [0.5]]]])
    x_hat = tf.constant([[[[0.0], [0.0]]], [[[0.0], [1.0]]]])  # squared errors per image: 1 and 0.5
    mean = tf.constant([[1.0, 0.0], [0.0, 0.0]])
    logvar = tf.zeros((2, 2))  # KL per image: 0.5 and 0
    for weight, loss in ((1.0, 0.75 + 0.25), (4.0, 0.75 + 4 * 0.25)):
        got = {k: float(v) for k, v in vae_objective(x, x_hat, mean, logvar, kl_weight=weight).items()}
        assert got == pytest.approx({"loss": loss, "reconstruction": 0.75, "kl": 0.25})


def sigmoid(v):
    return 1.0 / (1.0 + math.exp(-v))


def test_minimax_losses_match_hand_computed_values():
    real, fake = tf.constant([[0.0], [math.log(3.0)]]), tf.constant([[0.0], [-math.log(3.0)]])
    # D(real) = 1/2 and 3/4; D(fake) = 1/2 and 1/4
    d = -(math.log(0.5) + math.log(0.75)) / 2 - (math.log(0.5) + math.log(0.75)) / 2
    np.testing.assert_allclose(float(minimax_discriminator_loss(real, fake)), d, rtol=1e-6)
    np.testing.assert_allclose(float(minimax_generator_loss(fake)), (math.log(0.5) + math.log(0.75)) / 2, rtol=1e-6)
    np.testing.assert_allclose(float(non_saturating_generator_loss(fake)), -(math.log(0.5) + math.log(0.25)) / 2,
                               rtol=1e-6)


def test_hinge_losses_match_hand_computed_values():
    real, fake = tf.constant([[2.0], [0.5], [-1.0]]), tf.constant([[-3.0], [0.0]])
    # real: relu(1 - 2), relu(1 - 0.5), relu(1 + 1) = 0, 0.5, 2; fake: relu(1 - 3), relu(1 + 0) = 0, 1
    np.testing.assert_allclose(float(hinge_discriminator_loss(real, fake)), (0 + 0.5 + 2) / 3 + (0 + 1) / 2,
                               rtol=1e-6)
    np.testing.assert_allclose(float(hinge_generator_loss(fake)), (3.0 + 0.0) / 2, rtol=1e-6)
    # scores past the margins cost D nothing: no gradient from them
    scores = tf.Variable([[1.5], [-2.0]])
    with tf.GradientTape() as tape:
        loss = hinge_discriminator_loss(scores[:1], scores[1:])
    assert float(loss) == 0.0 and np.all(tape.gradient(loss, scores).numpy() == 0.0)


def test_minimax_generator_loss_saturates_where_the_non_saturating_one_does_not():
    logit = tf.Variable([[-8.0]])  # D is sure the fake is fake
    grads = []
    for loss in (minimax_generator_loss, non_saturating_generator_loss):
        with tf.GradientTape() as tape:
            value = loss(logit)
        grads.append(abs(float(tape.gradient(value, logit)[0, 0])))
    np.testing.assert_allclose(grads, [sigmoid(-8.0), 1 - sigmoid(-8.0)], rtol=1e-5)
    assert grads[0] < 1e-3 < 0.99 < grads[1]


def test_wasserstein_losses_match_hand_computed_values():
    real, fake = tf.constant([[1.0], [3.0]]), tf.constant([[-1.0], [0.0]])
    assert float(wasserstein_critic_loss(real, fake)) == -0.5 - 2.0
    assert float(wasserstein_generator_loss(fake)) == 0.5


def test_gradient_penalty_is_the_mean_squared_distance_of_the_norms_from_1():
    gradients = tf.constant([[[[3.0]], [[4.0]]], [[[1.0]], [[0.0]]], [[[0.0]], [[0.0]]]])  # norms 5, 1, 0
    np.testing.assert_allclose(float(gradient_penalty(gradients)), (16.0 + 0.0 + 1.0) / 3, rtol=1e-6)


def test_interpolate_weights_each_example_by_its_own_epsilon():
    real, fake = tf.fill((2, 2, 2, 1), 1.0), tf.zeros((2, 2, 2, 1))
    points = interpolate(real, fake, tf.constant([0.25, 1.0])[:, None, None, None]).numpy()
    np.testing.assert_allclose(points[0], 0.25)
    np.testing.assert_allclose(points[1], 1.0)
