"""Compute matching (`train.budget`, the built-in `unet_flops`): bad references refused naming the key,
the reference's settings in the matched runs' params, the epochs worked out from real models' training
FLOPs, a matched training run (resumed after SIGTERM), and a verdict that says it is compute-matched."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pandas as pd
import pytest
import yaml

import workflow_runner as wf
from conftest import shipped_config
from fake_runs import make_fake_sweep
from segsweep import layout
from segsweep.cli import main
from segsweep.config import job_settings, load_config, training_settings
from segsweep.errors import ConfigError
from segsweep.reporting.conditions import conditional_sentence
from segsweep.training.budget import matched_epochs
from test_training_runs import signal_after, start, train_args

GENERATED = {"name": "d", "format": "kitti_semantics", "root": "results/data/d", "generate": {"count": 5}}
MATCHED = {"models": ["unet_flops", "unetpp"], "report": {"baseline": "unet_flops"}}
TINY = {"network": {"filters": [4, 8, 16]}, "train": {"input_size": [32, 96], "epochs": 3}}


def _load(tmp_path: Path, **keys) -> dict:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"dataset": GENERATED, "train": {"epochs": 4}, **keys}))
    return load_config(path)


def _variant(architecture: str, reference: str, match: str = "flops") -> dict:
    return {"architecture": architecture, "train": {"budget": {"match": match, "reference": reference}}}


# --- config -----------------------------------------------------------------------------------


def test_a_matched_run_carries_what_its_epochs_depend_on(tmp_path: Path) -> None:
    settings = training_settings(job_settings(_load(tmp_path, **MATCHED), "unet_flops", "none"))
    reference = job_settings(_load(tmp_path, **MATCHED), "unetpp", "none")
    assert settings["train"]["budget"] == {"match": "flops", "reference": "unetpp"}
    assert settings["budget_reference"] == {"model": reference["model"], "epochs": 4, "input_size": [96, 320]}
    assert "budget_reference" not in reference and "budget" not in reference["train"]

    # The reference's epochs change the matched run's params (it reruns); its learning rate does not.
    def matched(reference_train: dict) -> dict:
        variants = {"unetpp": {"architecture": "unetpp", "train": reference_train}}
        return training_settings(
            job_settings(_load(tmp_path, **MATCHED, model_variants=variants), "unet_flops", "none")
        )

    assert matched({"epochs": 6}) != settings and matched({"learning_rate": 0.01}) == settings


@pytest.mark.parametrize(
    "keys, words",
    [
        (  # the reference is not swept
            {"models": ["unet_flops", "unet"], "report": {"baseline": "unet_flops", "candidate": "unet"}},
            ["key 'model_variants.unet_flops.train.budget.reference'", "'unetpp'", "not in 'models'"],
        ),
        (  # the reference has a budget of its own
            {**MATCHED, "models": ["unet_flops", "unetpp", "unet"], "model_variants": {"unetpp": _variant("unetpp", "unet")}},
            ["key 'model_variants.unet_flops.train.budget.reference'", "'unetpp'", "budget' of its own"],
        ),
        (  # matched to itself
            {"models": ["mine", "unetpp"], "report": {"baseline": "mine"}, "model_variants": {"mine": _variant("unet", "mine")}},
            ["key 'model_variants.mine.train.budget.reference'", "matched to itself"],
        ),
        (  # the config's own train.budget gives the reference one too
            {"train": {"epochs": 4, "budget": {"match": "flops", "reference": "unetpp"}}},
            ["key 'train.budget.reference'", "budget' of its own"],
        ),
        (  # time is not matched: it would tie the result to the machine
            {"models": ["mine", "unetpp"], "report": {"baseline": "mine"}, "model_variants": {"mine": _variant("unet", "unetpp", "time")}},
            ["key 'model_variants.mine.train'", "budget.match", "'time'"],
        ),
        (  # the epochs follow from the reference's: they cannot be drawn too
            {**MATCHED, "tune": {"trials": 2, "seeds": [9], "space": {"train.epochs": {"int_uniform": [2, 4]}}}},
            ["key 'tune.space'", "train.epochs", "'unet_flops'"],
        ),
        (  # a budget belongs to a model, not to a trial
            {"tune": {"trials": 2, "seeds": [9], "space": {"train.budget": {"choice": [None]}}}},
            ["key 'tune.space'", "'train.budget' is not a training setting"],
        ),
    ],
)  # fmt: skip
def test_a_bad_budget_is_refused_naming_the_key(tmp_path: Path, keys: dict, words: list[str]) -> None:
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, **keys)
    for word in words:
        assert word in str(error.value)


# --- the epochs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reference_epochs, reference_flops, flops, epochs",
    [
        (10, 2_460_057_600, 1_004_666_880, 24),  # unetpp and unet at the default widths and 64x224: 2.449x
        (12, 3, 1, 36),
        (3, 2, 3, 2),
        (1, 1, 3, 1),  # never below one epoch
    ],
)
def test_matched_epochs_give_the_reference_total(reference_epochs, reference_flops, flops, epochs) -> None:
    assert matched_epochs(reference_epochs, reference_flops, flops) == epochs


def test_the_epochs_of_real_models_follow_their_training_flops(tmp_path: Path) -> None:
    from segsweep.models import build_model, training_flops
    from segsweep.training.budget import apply_budget

    config = _load(tmp_path, **MATCHED, **TINY)
    settings = job_settings(config, "unet_flops", "none")
    own = build_model(settings["model"], (32, 96, 3))
    reference = build_model(job_settings(config, "unetpp", "none")["model"], (32, 96, 3))
    ratio = training_flops(reference) / training_flops(own)
    matched, budget = apply_budget(settings, own)
    assert 1.3 < ratio < 1.45  # U-Net++ of depth 3 at 4..16 filters: about 1.38x U-Net's
    assert budget["epochs"] == matched["train"]["epochs"] == round(3 * ratio) == 4
    assert budget["reference_training_flops"] / budget["training_flops"] == pytest.approx(ratio)
    assert (budget["match"], budget["reference"], budget["reference_epochs"]) == ("flops", "unetpp", 3)
    assert settings["train"]["epochs"] == 3  # the job's settings (and so its fingerprint) stay as given
    assert apply_budget(job_settings(config, "unetpp", "none"), own)[1] is None


def test_matched_epochs_too_few_for_the_warm_up_are_refused(tmp_path: Path) -> None:
    from segsweep.models import build_model
    from segsweep.training.budget import apply_budget

    variants = {"unetpp_flops": _variant("unetpp", "unet")}  # the dearer model at the cheaper one's FLOPs
    keys = {**TINY, "train": {**TINY["train"], "warmup_epochs": 2}}
    config = _load(
        tmp_path, models=["unet", "unetpp_flops"], report={"candidate": "unetpp_flops"}, model_variants=variants, **keys
    )
    settings = job_settings(config, "unetpp_flops", "none")
    with pytest.raises(ConfigError) as error:
        apply_budget(settings, build_model(settings["model"], (32, 96, 3)))  # 3 / 1.38 -> 2 epochs
    assert "'train.warmup_epochs'" in str(error.value) and "'train.budget'" in str(error.value)


@pytest.mark.slow
def test_a_matched_run_trains_its_epochs_and_resumes(make_synthetic_split, tmp_path: Path) -> None:
    root, manifest = make_synthetic_split(count=10, seed=1, height=375, width=1242)
    config = tmp_path / "config.yaml"
    train = {**TINY["train"], "batch_size": 2, "threads": 1, "early_stopping_patience": 0}
    config.write_text(yaml.safe_dump({
        "dataset": {"name": "tiny", "format": "kitti_semantics", "root": str(root)}, **MATCHED, **TINY, "train": train,
    }))  # fmt: skip
    run = tmp_path / "run"
    args = train_args(config, manifest, run, model="unet_flops")
    first = start(args)
    output = signal_after(first, run, 1, signal.SIGTERM)
    assert first.returncode == 143 and "compute-matched to unetpp: 4 epochs" in output, output

    assert main(args) == 0  # resumes: the fingerprint hashes the settings as given, not the matched epochs
    record = json.loads((run / layout.RUN_FILE).read_text())
    budget = record["budget"]
    expected = round(3 * budget["reference_training_flops"] / budget["training_flops"])
    assert budget["epochs"] == expected == 4 and budget["reference_epochs"] == 3
    assert record["epochs_run"] == record["settings"]["train"]["epochs"] == expected
    assert record["resumed"] and record["resumed_from_epoch"] >= 1
    assert record["parameters"] > 0 and budget["training_flops"] < budget["reference_training_flops"]


# --- the verdict ------------------------------------------------------------------------------

BUDGET = {
    "match": "flops",
    "reference": "unetpp",
    "reference_epochs": 10,
    "reference_training_flops": 12_000_000_000,
    "training_flops": 5_100_000_000,  # fake_runs' metrics.json of a baseline
    "epochs": 24,
}


def test_the_verdict_and_models_table_say_what_is_compute_matched(tmp_path: Path) -> None:
    sweep = make_fake_sweep(
        tmp_path, models=("unet_flops", "unetpp"), error_px={"unet_flops": 7.0, "unetpp": 2.0}, augmentations=("none",), n_images=8
    )  # fmt: skip
    for seed in sweep.seeds:
        path = sweep.run_dir("unet_flops", "none", seed) / layout.RUN_FILE
        path.write_text(json.dumps({**json.loads(path.read_text()), "budget": BUDGET}))
    assert main(sweep.aggregate_args(grid_images=1)) == 0
    verdict = json.loads((sweep.out_dir / layout.VERDICT_FILE).read_text())
    label = "FLOPs-matched to unetpp (24 epochs to its 10)"
    assert verdict["matching"] == {
        "unet_flops": {
            "match": "flops", "reference": "unetpp", "label": label, "epochs": 24, "reference_epochs": 10,
            "training_flops": 5_100_000_000, "reference_training_flops": 12_000_000_000,
        }
    }  # fmt: skip
    prefix = (
        "Compute-matched (unet_flops trained 24 epochs to unetpp's 10, the same training FLOPs): unetpp vs unet_flops"
    )
    assert verdict["sentence"].startswith(prefix)
    models = pd.read_csv(sweep.out_dir / layout.AGGREGATE_TABLES["models"]).set_index("model")
    runs = pd.read_csv(sweep.out_dir / layout.AGGREGATE_TABLES["runs"])
    assert models.at["unet_flops", "matching"] == label and pd.isna(models.at["unetpp", "matching"])
    flops = runs[runs["model"] == "unetpp"]
    assert models.at["unetpp", "epochs_run"] == pytest.approx(flops["epochs_run"].mean())
    assert models.at["unetpp", "training_flops_per_image_x_epochs"] == pytest.approx(
        (flops["training_flops_per_image"] * flops["epochs_run"]).mean()
    )
    out = tmp_path / "report.html"
    assert main(sweep.report_args(out)) == 0
    html = out.read_text(encoding="utf-8")
    assert "<dt>Matching</dt>" in html.split('<section id="verdict"')[1].split("</section>")[0]
    assert f"<td>{label}</td>" in html.split('<section id="models"')[1].split("</section>")[0]


@pytest.mark.parametrize(
    "blocks, start",
    [
        ({}, "unetpp vs unet"),
        ({"matching": {"unet": {"match": "parameters", "reference": "unetpp"}}}, "Parameter-matched (unet at unetpp's parameter count): "),
        (
            {"tuning": {"trials": 6, "seeds": [100], "curves_cross": False},
             "matching": {"unet": {"match": "flops", "reference": "unetpp", "epochs": 24, "reference_epochs": 10}}},
            "With 6 tuning trials each, chosen on validation (tuning seeds 100), compute-matched (unet trained 24 "
            "epochs to unetpp's 10, the same training FLOPs): unetpp vs unet",
        ),
        ({"matching": {"unet_wide": {"match": "parameters", "reference": "unetpp"}}}, "unetpp vs unet"),  # not compared
    ],
)  # fmt: skip
def test_one_prefix_says_what_the_verdict_is_conditional_on(blocks: dict, start: str) -> None:
    verdict = {"baseline": "unet", "candidate": "unetpp", "sentence": "unetpp vs unet, pooled test IoU: ...", **blocks}
    assert conditional_sentence(verdict).startswith(start)


def test_example_config_plans_the_compute_matched_sweep(tmp_path: Path) -> None:
    config = shipped_config("config.yaml", "compute-matched.yaml")
    code, out = wf.run(tmp_path, config, "-n", "--printshellcmds")
    assert code == 0, out[-3000:]
    assert config["models"] == ["unet_flops", "unetpp"]
    assert wf.planned_jobs(out)["train"] == 2 * len(config["augmentations"]) * len(config["seeds"])
    assert "results/synthetic-compute-matched/runs/unet_flops/none/split0/seed0/run.json" in out
    assert '"budget":{"match":"flops","reference":"unetpp"}' in out and '"budget_reference":' in out
