"""The choices an evaluation makes, made on the validation split only, never on test.

(What the config says about these choices, ``threshold: val`` and the threshold training uses
meanwhile, is in `segsweep.config.choice`.) Two things are chosen per run: for a deep-supervised U-Net++, the headline inference mode
("accurate" or a pruned L_k), and, with ``evaluate.threshold: val``, the probability threshold.
Reading either off the test split would tune the reported number to the very images it is
reported on; the test split is scored once, with the choices fixed.

Threshold: for each mode, the threshold t_k = k/255 (0 < k < 255) with the highest pooled
validation F1, the operating point of the KITTI road benchmark's MaxF, but chosen on val and
then applied to test. Pooled F1 and pooled IoU rise together (F1 = 2 IoU / (1 + IoU) on the same
counts), so this is also the threshold of the best pooled IoU: one threshold serves both.
Ties go to the lowest threshold (the devkit's argmax).

Mode: the highest pooled validation IoU, each mode at its own threshold. Ties go to the mode
with fewer parameters (L1 < L2 < .. < L_{D-1} < accurate): equal accuracy for less computation
is the better model to deploy, and the rule is deterministic. Exact ties are not rare: heads
that agree on every validation pixel give identical counts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from segsweep.evaluation.metrics import best_threshold, threshold_counts


def thresholds_on_val(histograms: np.ndarray) -> np.ndarray:
    """One threshold per mode from the validation split's (modes, 2, 256) histograms."""
    thresholds, _ = best_threshold(threshold_counts(histograms))
    return np.atleast_1d(thresholds)


def headline_mode(val_pooled_iou: Sequence[float], parameters: Sequence[int]) -> int:
    """Index of the mode with the best validation pooled IoU; ties to the fewest parameters."""
    candidates = [m for m, value in enumerate(val_pooled_iou) if not np.isnan(value)]
    if not candidates:
        raise ValueError("no mode has a validation IoU (no road in the validation split)")
    return max(candidates, key=lambda m: (val_pooled_iou[m], -parameters[m]))
