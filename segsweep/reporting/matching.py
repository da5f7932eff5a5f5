"""What each model was matched to, as its runs record it: U-Net++'s parameter count (`unet_wide`,
segsweep.models.widths) or a reference's training FLOPs (`train.budget`, segsweep.training.budget).

A comparison with a matched baseline answers another question than one with a plain baseline
(nnU-Net Revisited, Isensee et al. 2024: gains over U-Net shrink against a U-Net given the same
compute), so runs.csv carries each run's matching, the models table names it, and verdict.json's
`matching` block and the verdict sentence say it (segsweep.reporting.conditions).
"""

from __future__ import annotations

import pandas as pd

# runs.csv's matching columns, null where a run is not matched (or, for parameters, has no budget).
COLUMNS = ("match", "match_reference", "budget_epochs", "reference_epochs", "reference_training_flops_per_image")
# Built-in `unet_wide` (model setting match_unetpp_parameters) is matched to U-Net++ with deep supervision.
PARAMETERS_REFERENCE = "unetpp"


def run_matching(info: dict) -> dict:
    """runs.csv's COLUMNS of one run.json: its budget (with the epochs and FLOPs it was worked out
    from), or parameters matching, or nulls."""
    row = dict.fromkeys(COLUMNS)
    budget = info.get("budget")
    if budget:
        row.update(
            match=budget["match"],
            match_reference=budget["reference"],
            budget_epochs=budget["epochs"],
            reference_epochs=budget["reference_epochs"],
            reference_training_flops_per_image=budget["reference_training_flops"],
        )
    elif ((info.get("settings") or {}).get("model") or {}).get("match_unetpp_parameters"):
        row.update(match="parameters", match_reference=PARAMETERS_REFERENCE)
    return row


def label(run) -> str:
    """The models table's words for a run's matching (a runs.csv row): 'FLOPs-matched to unetpp (24
    epochs to its 10)', 'parameters-matched to unetpp', or '' for a model matched to nothing."""
    if run["match"] == "flops":
        epochs, reference_epochs = int(run["budget_epochs"]), int(run["reference_epochs"])
        return f"FLOPs-matched to {run['match_reference']} ({epochs} epochs to its {reference_epochs})"
    if run["match"] == "parameters":
        return f"parameters-matched to {run['match_reference']}"
    return ""


def matching_fields(runs: pd.DataFrame) -> dict:
    """verdict.json's `matching` block: per matched model, what it was matched to (empty when none was)."""
    matching = {}
    for model, group in runs[runs["match"].notna()].groupby("model", sort=False):
        run = group.iloc[0]
        matching[model] = {"match": run["match"], "reference": run["match_reference"], "label": label(run)}
        if run["match"] == "flops":
            matching[model].update(
                epochs=int(run["budget_epochs"]),
                reference_epochs=int(run["reference_epochs"]),
                training_flops=int(run["training_flops_per_image"]),
                reference_training_flops=int(run["reference_training_flops_per_image"]),
            )
    return {"matching": matching} if matching else {}


def matching_conditions(matching: dict, compared: tuple[str, ...]) -> list[str]:
    """The verdict sentence's words for the compared models' matching, e.g. 'compute-matched
    (unet_flops trained 24 epochs to unetpp's 10, the same training FLOPs)'."""
    words = []
    for model in compared:
        match = matching.get(model)
        if match and match["match"] == "flops":
            words.append(
                f"compute-matched ({model} trained {match['epochs']} epochs to {match['reference']}'s "
                f"{match['reference_epochs']}, the same training FLOPs)"
            )
        elif match:
            words.append(f"parameter-matched ({model} at {match['reference']}'s parameter count)")
    return words
