"""What a verdict after tuning is conditional on: each model's tuning curve, and whether they cross.

Reads each model's tune/{model}/chosen.json (segsweep choose: the validation score of every trial)
and draws the expected best validation score after n = 1..N trials with its band
(segsweep.statistics.tuning_curves: Dodge et al. 2019, Lourie et al. 2023). Where the baseline's and
the candidate's curves cross, which model is better depends on the tuning budget (Dodge et al.),
and the verdict says so.
"""

from __future__ import annotations

from pathlib import Path

from segsweep.reporting.runs import read_json
from segsweep.statistics.tuning_curves import curves_cross, tuning_curve


def tuning_fields(chosen_files: list[Path], baseline: str, candidate: str) -> dict:
    """verdict.json's `tuning` block (empty without tuning)."""
    if not chosen_files:
        return {}
    choices = {choice["model"]: choice for choice in map(read_json, chosen_files)}
    curves = {model: tuning_curve(choice["trial_scores"]) for model, choice in choices.items()}
    first = next(iter(choices.values()))
    return {
        "tuning": {
            "trials": first["trials"],
            "seeds": first["seeds"],
            "metric": first["metric"],
            "chosen_on": "val",
            "curves_cross": curves_cross(curves[baseline]["expected_best"], curves[candidate]["expected_best"]),
            "models": {
                model: {
                    "trial": choice["trial"],
                    "configuration": choice["configuration"],
                    "score": choice["score"],
                    **{key: values.tolist() for key, values in curves[model].items()},
                }
                for model, choice in choices.items()
            },
        }
    }


def tuning_condition(tuning: dict) -> str:
    """The verdict sentence's words for the tuning budget (segsweep.reporting.conditions puts them in front)."""
    seeds = ", ".join(map(str, tuning["seeds"]))
    return f"with {tuning['trials']} tuning trials each, chosen on validation (tuning seeds {seeds})"


def crossing_note(tuning: dict) -> str:
    """What the verdict sentence adds where the baseline's and the candidate's tuning curves cross."""
    if not tuning["curves_cross"]:
        return ""
    return (
        " The tuning curves cross: which model is better depends on the tuning budget, so this verdict"
        f" holds for {tuning['trials']} trials only."
    )
