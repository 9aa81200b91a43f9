"""The numpy EM Gaussian mixture recovers known clusters."""

import numpy as np
import pytest
from ScarSegmentationLib.anatomy.gmm import GaussianMixture, fit_gmm


def clusters(seed=1, k=5, d=16, n=200, spread=6.0):
    rng = np.random.default_rng(seed)
    mus = rng.normal(0, spread, (k, d))
    scales = rng.uniform(0.5, 1.5, k)
    x = np.concatenate([rng.normal(m, s, (n, d)) for m, s in zip(mus, scales, strict=True)])
    return x, mus, scales


def test_em_recovers_known_clusters():
    x, mus, scales = clusters()
    gmm, ll = fit_gmm(x, 5, seed=0)
    dist = np.linalg.norm(gmm.means[:, None] - mus[None], axis=-1)
    match = dist.argmin(1)
    assert sorted(match.tolist()) == list(range(5))  # one fitted component per true cluster
    # well-separated clusters: the fitted means are the clusters' sample means
    sample_means = x.reshape(5, 200, 16).mean(1)[match]
    assert np.abs(gmm.means - sample_means).max() < 0.05
    assert gmm.weights == pytest.approx(np.full(5, 0.2), abs=0.02)
    fitted_sd = np.sqrt(np.einsum("kii->ki", gmm.covariances).mean(1))
    assert fitted_sd == pytest.approx(scales[match], rel=0.15)
    # the log-likelihood reported is the mean log density of the data
    assert ll == pytest.approx(gmm.score_samples(x).mean(), rel=1e-6)


def test_density_matches_a_single_gaussian():
    from scipy.stats import multivariate_normal

    mean, cov = np.array([1.0, -2.0]), np.array([[2.0, 0.5], [0.5, 1.0]])
    gmm = GaussianMixture(np.array([1.0]), mean[None], cov[None])
    pts = np.array([[0.0, 0.0], [1.0, -2.0], [3.0, 1.0]])
    assert gmm.score_samples(pts) == pytest.approx(multivariate_normal(mean, cov).logpdf(pts))


def test_sampling_follows_the_mixture_and_round_trips():
    x, _, _ = clusters(seed=3, k=2, d=3, n=300)
    gmm, _ = fit_gmm(x, 2, seed=0)
    s = gmm.sample(4000, np.random.default_rng(0))
    assert s.mean(0) == pytest.approx(x.mean(0), abs=0.3)
    again = GaussianMixture.from_dict(gmm.to_dict())
    assert again.score_samples(x[:5]) == pytest.approx(gmm.score_samples(x[:5]))
