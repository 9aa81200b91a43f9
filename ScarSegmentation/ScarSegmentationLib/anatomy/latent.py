"""The bank of plausible latents: training latents that decode to plausible masks, plus latents
rejection-sampled from a Gaussian mixture of the training latents (ACSNet's latent augmentation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .checks import RING_CLOSED, CheckThresholds, check_myocardium
from .gmm import GaussianMixture

Decoder = Callable[[np.ndarray], np.ndarray]  # (N, D) latents -> (N, S, S) bool masks

SOURCE_TRAINING = 0
SOURCE_SAMPLED = 1


@dataclass
class LatentBank:
    latents: np.ndarray  # (M, D) float32
    closed: np.ndarray  # (M,) bool: decodes to a closed ring; False = a basal "C" (base only)
    source: np.ndarray  # (M,) int8: SOURCE_TRAINING or SOURCE_SAMPLED

    def __len__(self) -> int:
        return len(self.latents)

    def nearest(self, z: np.ndarray, allow_open: bool, k: int = 1) -> np.ndarray:
        """Indices of the k bank latents nearest to z (Euclidean); closed rings only unless
        allow_open."""
        idx = np.arange(len(self)) if allow_open else np.flatnonzero(self.closed)
        d2 = ((self.latents[idx] - np.asarray(z, dtype=np.float32)[None]) ** 2).sum(1)
        return idx[np.argsort(d2)[:k]]


def plausible_flags(
    masks: np.ndarray, thresholds: CheckThresholds | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(passes with a "C" allowed, closed ring) for each mask of an (N, S, S) stack."""
    results = [check_myocardium(m, allow_open=True, thresholds=thresholds) for m in masks]
    return (
        np.array([r.passes for r in results], dtype=bool),
        np.array([r.ring == RING_CLOSED for r in results], dtype=bool),
    )


def rejection_sample(
    gmm: GaussianMixture,
    decode: Decoder,
    n_accept: int,
    rng: np.random.Generator,
    thresholds: CheckThresholds | None = None,
    max_draws: int | None = None,
    batch: int = 256,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Draw from the mixture until n_accept decodings pass (or max_draws, default 4 n_accept).

    Returns (accepted latents, their closed-ring flags, number drawn)."""
    max_draws = max_draws or 4 * n_accept
    kept: list[np.ndarray] = []
    closed: list[np.ndarray] = []
    drawn = accepted = 0
    while accepted < n_accept and drawn < max_draws:
        z = gmm.sample(min(batch, max_draws - drawn), rng).astype(np.float32)
        drawn += len(z)
        ok, ring = plausible_flags(decode(z), thresholds)
        kept.append(z[ok])
        closed.append(ring[ok])
        accepted += int(ok.sum())
    z_all = np.concatenate(kept)[:n_accept] if kept else np.zeros((0, gmm.means.shape[1]))
    c_all = np.concatenate(closed)[:n_accept] if closed else np.zeros(0, dtype=bool)
    return z_all.astype(np.float32), c_all, drawn


def build_bank(
    train_latents: np.ndarray,
    decode: Decoder,
    gmm: GaussianMixture,
    n_samples: int,
    rng: np.random.Generator,
    thresholds: CheckThresholds | None = None,
    batch: int = 256,
) -> tuple[LatentBank, dict[str, float]]:
    """Training latents whose decodings pass + n_samples accepted GMM samples; with statistics."""
    z_train = np.asarray(train_latents, dtype=np.float32)
    ok_parts, ring_parts = [], []
    for i in range(0, len(z_train), batch):
        ok, ring = plausible_flags(decode(z_train[i : i + batch]), thresholds)
        ok_parts.append(ok)
        ring_parts.append(ring)
    ok = np.concatenate(ok_parts) if ok_parts else np.zeros(0, dtype=bool)
    ring = np.concatenate(ring_parts) if ring_parts else np.zeros(0, dtype=bool)
    z_s, ring_s, drawn = rejection_sample(gmm, decode, n_samples, rng, thresholds, batch=batch)
    bank = LatentBank(
        latents=np.concatenate([z_train[ok], z_s]).astype(np.float32),
        closed=np.concatenate([ring[ok], ring_s]),
        source=np.concatenate(
            [np.full(int(ok.sum()), SOURCE_TRAINING), np.full(len(z_s), SOURCE_SAMPLED)]
        ).astype(np.int8),
    )
    stats = {
        "training_latents": float(len(z_train)),
        "training_decodings_passing": float(ok.mean()) if ok.size else 0.0,
        "samples_drawn": float(drawn),
        "samples_accepted": float(len(z_s)),
        "acceptance_rate": float(len(z_s)) / max(drawn, 1),
        "bank_size": float(len(bank)),
        "bank_closed_fraction": float(bank.closed.mean()) if len(bank) else 0.0,
    }
    return bank, stats
