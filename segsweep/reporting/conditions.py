"""What a verdict is conditional on, said in front of its sentence: the one place that prefix is built.

A verdict after tuning holds for that tuning budget (segsweep.reporting.tuning), and a verdict
against a matched baseline answers "better than a U-Net given the same compute (or parameters)",
not "better than a U-Net" (segsweep.reporting.matching). Without either, the sentence is unchanged:
"With 6 tuning trials each, chosen on validation (tuning seeds 100), compute-matched (unet_flops
trained 24 epochs to unetpp's 10, the same training FLOPs): unetpp vs unet_flops, ...".
"""

from __future__ import annotations

from segsweep.reporting.matching import matching_conditions
from segsweep.reporting.tuning import crossing_note, tuning_condition


def conditional_sentence(verdict: dict) -> str:
    """verdict.json's sentence with its conditions in front (the `tuning` and `matching` blocks), and
    a crossing of the tuning curves named after it."""
    tuning = verdict.get("tuning")
    conditions = [
        *([tuning_condition(tuning)] if tuning else []),
        *matching_conditions(verdict.get("matching", {}), (verdict["baseline"], verdict["candidate"])),
    ]
    if not conditions:
        return verdict["sentence"]
    prefix = ", ".join(conditions)
    text = f"{prefix[0].upper()}{prefix[1:]}: {verdict['sentence']}"
    return text + (crossing_note(tuning) if tuning else "")
