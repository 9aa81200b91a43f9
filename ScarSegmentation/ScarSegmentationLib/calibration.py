"""Undo the class weighting of a network's training loss at inference.

A network trained with class-weighted cross-entropy (weights w_c) learns a softmax close to
w_c P(c | x) / sum_k w_k P(k | x): the rare classes are inflated, so the argmax grows them (the
myocardium net's myocardium came out about 20 % larger than the reference on the val patients).
Dividing the softmax by w_c and renormalising gives back the posterior; its argmax is the
unweighted Bayes decision. That decision maximises accuracy, not the Dice of a rare class: a
power below 1 undoes the weighting only partly (w_c ** power), which moves the decision towards
the rare classes (scar, the myocardium next to the blood pool); its value is chosen on the
cross-validation (bench/bench_cv.py --prior-powers, bench/calibrate_decision.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def undo_class_weights(
    probs: np.ndarray, class_weights: Sequence[float] | None, axis: int = -3, power: float = 1.0
) -> np.ndarray:
    """Softmax with classes along `axis` -> prior-corrected softmax (unchanged without weights
    or with power 0): divided by class_weights ** power and renormalised."""
    if not 0.0 <= power <= 1.0:
        raise ValueError(f"prior power {power}: a value in [0, 1] is expected")
    if class_weights is None or power == 0.0:
        return probs
    w = np.asarray(class_weights, dtype=np.float64)
    if w.ndim != 1 or w.size != probs.shape[axis] or not np.all(w > 0):
        raise ValueError(
            f"class weights {list(w)} do not fit a softmax with {probs.shape[axis]} classes"
        )
    shape = [1] * probs.ndim
    shape[axis] = w.size
    q = probs / (w**power).reshape(shape).astype(probs.dtype)
    return q / np.maximum(q.sum(axis=axis, keepdims=True), np.finfo(probs.dtype).tiny)


def undo_model_class_weights(
    model: object, probs: np.ndarray, axis: int = -3, power: float = 1.0
) -> np.ndarray:
    """`undo_class_weights` with the weights a loaded network carries in its config (none for
    networks exported before they were stored, or stand-ins without a config)."""
    weights = getattr(model, "config", {}).get("class_weights")
    return undo_class_weights(probs, weights, axis, power)
