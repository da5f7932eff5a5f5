"""The config's words for choices the evaluation makes on the validation split.

The choosing itself is in `segsweep.evaluation.choice`; what the config says about it (that
``evaluate.threshold: val`` asks for a chosen threshold, and which threshold training's
validation IoU uses meanwhile) is needed before any evaluation runs: by the config checks, the
params that decide what reruns, and training.
"""

from __future__ import annotations

VAL = "val"
DEFAULT_THRESHOLD = 0.5


def checkpoint_threshold(evaluate: dict) -> float:
    """The threshold of training's validation IoU (which picks the checkpoint): the configured one,
    or 0.5 with ``threshold: val``, which is chosen for the trained model, after training."""
    return DEFAULT_THRESHOLD if evaluate["threshold"] == VAL else float(evaluate["threshold"])
