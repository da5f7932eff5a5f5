"""What a verdict after tuning is conditional on: each model's tuning curve, and whether they cross.

Reads each model's tune/{model}/chosen.json (segsweep choose: the validation score of every trial)
and draws the expected best validation score after n = 1..N trials with its band
(segsweep.statistics.tuning_curves: Dodge et al. 2019, Lourie et al. 2023). Where the baseline's and
the candidate's curves cross, which model is better depends on the tuning budget (Dodge et al.),
and the verdict says so.

The trials are training runs the sweep paid for: `trial_runs` finds each model's trial run.json
files beside its chosen.json (segsweep.layout: tune_choice_dir and tune_dir below it), failed trials
included, for the verdict's cost (segsweep.reporting.cost.with_tuning).
"""

from __future__ import annotations

from pathlib import Path

from segsweep import layout
from segsweep.errors import UserError
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


def trial_run_files(chosen_file: Path) -> list[Path]:
    """run.json of every (trial, tuning seed) of one model's tuning, trial-major: chosen.json sits in
    the experiment's tune_choice_dir and names the model, the number of trials and the tuning seeds."""
    choice = read_json(chosen_file)
    model = choice["model"]
    depth = len(layout.tune_choice_dir("", model).parts)  # the folders from EXP down to chosen.json's
    experiment = Path(*chosen_file.parent.parts[:-depth])
    if layout.tune_choice_dir(experiment, model) != chosen_file.parent:
        raise UserError(f"{chosen_file}: not in {layout.tune_choice_dir('EXP', model)}, so its trials cannot be found")
    return [
        layout.tune_dir(experiment, model, trial, seed) / layout.RUN_FILE
        for trial in range(choice["trials"])
        for seed in choice["seeds"]
    ]


def trial_runs(chosen_files: list[Path]) -> list[dict]:
    """run.json of every tuning trial of every model, a failed trial's too (it spent its time); an
    empty record where one is missing, which its cost then counts as unknown."""
    paths = [path for chosen in chosen_files for path in trial_run_files(chosen)]
    return [read_json(path) if path.exists() else {} for path in paths]


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
