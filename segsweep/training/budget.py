"""Compute matching (`train.budget`): a run's epochs set so that it trains on its reference's FLOPs.

nnU-Net Revisited (Isensee et al. 2024) found that claimed gains over U-Net shrink against a U-Net
given the same compute. U-Net++ costs about 2.45x U-Net's training FLOPs per image at the default
widths, so the built-in `unet_flops` trains U-Net for that many times U-Net++'s epochs:

    epochs = max(1, round(reference epochs x reference training FLOPs per image / own))

Training FLOPs per image are segsweep.models.flops.training_flops (3 x the forward convolution
FLOPs), each model built at the input size it trains at. They are counted, not measured: matching
measured time would tie the epochs, and so the trained network, to the machine and its load. The
epochs are worked out when the run starts, from its settings alone (the reference's model, epochs
and input size are in them: segsweep.config.settings.budget_reference), so a resumed attempt works
out the same number and the resume fingerprint, a hash of those settings, still holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from segsweep.config.checks import check_warmup
from segsweep.config.tuning import with_train
from segsweep.errors import ConfigError

if TYPE_CHECKING:
    import keras


def matched_epochs(reference_epochs: int, reference_flops: int, flops: int) -> int:
    """The epochs that give a model of `flops` training FLOPs per image the reference's total."""
    if reference_epochs < 1 or reference_flops <= 0 or flops <= 0:
        raise ValueError(
            f"matched_epochs needs positive epochs and FLOPs, got {reference_epochs}, {reference_flops}, {flops}"
        )
    return max(1, round(reference_epochs * reference_flops / flops))


def apply_budget(settings: dict, model: keras.Model) -> tuple[dict, dict[str, Any] | None]:
    """(settings with train.epochs matched to the reference, run.json's `budget` record) for a run
    with `train.budget`; (settings, None) without. `model` is the run's own, as built to train."""
    budget = settings["train"].get("budget")
    if budget is None:
        return settings, None
    reference = settings.get("budget_reference")
    if not isinstance(reference, dict) or not {"model", "epochs", "input_size"} <= set(reference):
        raise ConfigError(
            "key 'train.budget': the settings lack 'budget_reference' {model, epochs, input_size} "
            "(segsweep.config.job_settings adds it from the config)"
        )
    from segsweep.config.settings import training_size
    from segsweep.models import build_model, training_flops, training_flops_at

    height, width = reference["input_size"]  # where the reference trains on patches, the patch's
    reference_flops = training_flops(build_model(reference["model"], (height, width, model.input_shape[-1])))
    flops = training_flops_at(model, settings["model"], training_size(settings["train"]))
    epochs = matched_epochs(reference["epochs"], reference_flops, flops)
    try:
        check_warmup(settings["train"]["warmup_epochs"], epochs)
    except ConfigError as error:
        raise ConfigError(f"{error}, as 'train.budget' matched them to {budget['reference']}'s FLOPs") from None
    record = {
        "match": budget["match"],
        "reference": budget["reference"],
        "reference_epochs": reference["epochs"],
        "reference_training_flops": reference_flops,
        "training_flops": flops,
        "epochs": epochs,
    }
    return with_train(settings, {"epochs": epochs}), record


def describe_budget(budget: dict[str, Any]) -> str:
    """The training log's line: the matched epochs and the arithmetic behind them."""
    return (
        f"compute-matched to {budget['reference']}: {budget['epochs']} epochs x {budget['training_flops']:,} training "
        f"FLOPs per image, for its {budget['reference_epochs']} x {budget['reference_training_flops']:,}"
    )
