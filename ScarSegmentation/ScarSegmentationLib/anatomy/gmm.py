"""A small Gaussian mixture (full covariances) fitted by expectation-maximisation in numpy.

scikit-learn is not a dependency of the extension; this is the textbook EM (k-means++ seeding,
log-sum-exp responsibilities, a ridge on the covariances) in about fifty lines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp


@dataclass
class GaussianMixture:
    weights: np.ndarray  # (K,)
    means: np.ndarray  # (K, D)
    covariances: np.ndarray  # (K, D, D)

    def log_prob_components(self, x: np.ndarray) -> np.ndarray:
        """(N, K): log weight_k + log N(x | mean_k, cov_k)."""
        x = np.atleast_2d(x)
        d = x.shape[1]
        out = np.empty((x.shape[0], len(self.weights)))
        for k, (mu, cov) in enumerate(zip(self.means, self.covariances, strict=True)):
            chol = np.linalg.cholesky(cov)
            sol = np.linalg.solve(chol, (x - mu).T)  # L^-1 (x - mu)
            logdet = 2.0 * np.sum(np.log(np.diag(chol)))
            out[:, k] = np.log(self.weights[k]) - 0.5 * (
                d * np.log(2 * np.pi) + logdet + np.sum(sol**2, axis=0)
            )
        return out

    def score_samples(self, x: np.ndarray) -> np.ndarray:
        """Log density of each row of x."""
        return logsumexp(self.log_prob_components(x), axis=1)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        comp = rng.choice(len(self.weights), size=n, p=self.weights)
        out = np.empty((n, self.means.shape[1]))
        for k in range(len(self.weights)):
            sel = comp == k
            out[sel] = rng.multivariate_normal(self.means[k], self.covariances[k], int(sel.sum()))
        return out

    def to_dict(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights, "means": self.means, "covariances": self.covariances}

    @classmethod
    def from_dict(cls, d: dict) -> GaussianMixture:
        return cls(
            *(np.asarray(d[k], dtype=np.float64) for k in ("weights", "means", "covariances"))
        )


def _kmeans_pp(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    centres = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        d2 = np.min(((x[:, None] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
        centres.append(x[rng.choice(len(x), p=d2 / d2.sum())])
    return np.array(centres)


def fit_gmm(
    x: np.ndarray,
    n_components: int = 5,
    seed: int = 0,
    n_init: int = 5,
    max_iter: int = 300,
    tol: float = 1e-6,
    reg_covar: float = 1e-4,
) -> tuple[GaussianMixture, float]:
    """Best of n_init EM runs; returns the mixture and its mean log-likelihood per sample."""
    x = np.asarray(x, dtype=np.float64)
    rng = np.random.default_rng(seed)
    fits = [_fit_once(x, n_components, rng, max_iter, tol, reg_covar) for _ in range(n_init)]
    return max(fits, key=lambda f: f[1])


def _fit_once(
    x: np.ndarray,
    n_components: int,
    rng: np.random.Generator,
    max_iter: int,
    tol: float,
    reg_covar: float,
) -> tuple[GaussianMixture, float]:
    n, d = x.shape
    # Seed: hard assignment to k-means++ centres, then alternate E and M steps.
    centres = _kmeans_pp(x, n_components, rng)
    resp = np.zeros((n, n_components))
    resp[np.arange(n), np.argmin(((x[:, None] - centres[None]) ** 2).sum(-1), axis=1)] = 1.0
    ridge = reg_covar * np.eye(d) * max(float(np.var(x, axis=0).mean()), 1e-12)
    prev = -np.inf
    gmm = None
    for _ in range(max_iter):
        nk = resp.sum(0) + 1e-10
        means = resp.T @ x / nk[:, None]
        covs = np.empty((n_components, d, d))
        for k in range(n_components):
            diff = x - means[k]
            covs[k] = (resp[:, k, None] * diff).T @ diff / nk[k] + ridge
        gmm = GaussianMixture(nk / n, means, covs)
        logp = gmm.log_prob_components(x)
        norm = logsumexp(logp, axis=1)
        resp = np.exp(logp - norm[:, None])
        ll = float(norm.mean())
        if abs(ll - prev) < tol * max(abs(ll), 1.0):
            break
        prev = ll
    assert gmm is not None
    return gmm, ll
