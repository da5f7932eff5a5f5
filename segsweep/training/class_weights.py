"""Per-class weights for the cross-entropy term: median frequency balancing.

Eigen and Fergus (2015) weight each class c by ``median_freq / freq(c)``, where ``freq(c)`` is
the class's pixels divided by all (valid) pixels of the training images in which c appears;
SegNet (Badrinarayanan et al. 2017) trained CamVid's 11 classes this way. Without it a rare
class (a pole, a sign, a cyclist) adds almost nothing to the mean cross-entropy, and a model
that never learns it still scores a low loss. Counting only the images where a class appears
keeps a class that is large where present (sky) from being up-weighted merely because some
frames lack it.

Assumptions: the training split's frequencies stand for the drives the model will meet, and void
pixels count for no class. A class absent from every training image gets weight 1: it never is
the true class of a training pixel, so its weight is never used.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def median_frequency_weights(labels: Sequence[np.ndarray], valids: Sequence[np.ndarray], classes: int) -> np.ndarray:
    """Weights (K,) from per-image class-index maps and their valid masks (void pixels False)."""
    pixels = np.zeros(classes)  # pixels of class c, over the images where c appears
    image_pixels = np.zeros(classes)  # valid pixels of those images
    for label, valid in zip(labels, valids):
        counts = np.bincount(label[valid.astype(bool)].ravel(), minlength=classes)[:classes]
        pixels += counts
        image_pixels[counts > 0] += counts.sum()
    present = pixels > 0
    weights = np.ones(classes)
    if present.any():
        frequency = pixels[present] / image_pixels[present]
        weights[present] = np.median(frequency) / frequency
    return weights
