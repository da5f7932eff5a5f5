"""Bad config stops the run before any job starts, with a message naming the key or path.

Every case goes through `load_config` (the path of commands run by hand); a representative set
also goes through `snakemake -n`, i.e. Snakemake's own `validate()` in the Snakefile.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, shipped_config
from segsweep.config import (
    canonical_json,
    evaluation_settings,
    experiment_name,
    job_settings,
    load_config,
    training_settings,
)
from segsweep.errors import ConfigError

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

GENERATED = {"name": "d", "format": "kitti_semantics", "root": "results/data/d", "generate": {"count": 5}}

# (case id, config, text the error must contain)
BAD_CONFIGS = [
    ("unknown key", {"dataset": GENERATED, "epochs": 3}, "'epochs' was unexpected"),
    ("unknown nested key", {"dataset": GENERATED, "train": {"epoch": 3}}, "'epoch' was unexpected"),
    ("wrong type", {"dataset": GENERATED, "train": {"epochs": "ten"}}, "key 'train.epochs'"),
    ("zero epochs", {"dataset": GENERATED, "train": {"epochs": 0}}, "key 'train.epochs'"),
    ("negative epochs", {"dataset": GENERATED, "train": {"epochs": -2}}, "key 'train.epochs'"),
    ("empty models", {"dataset": GENERATED, "models": []}, "key 'models'"),
    ("empty seeds", {"dataset": GENERATED, "seeds": []}, "key 'seeds'"),
    ("empty augmentations", {"dataset": GENERATED, "augmentations": []}, "key 'augmentations'"),
    ("duplicate seeds", {"dataset": GENERATED, "seeds": [1, 1]}, "key 'seeds'"),
    ("unknown preset", {"dataset": GENERATED, "augmentations": ["rotate90"]}, "no preset named 'rotate90'"),
    ("unknown model", {"dataset": GENERATED, "models": ["segnet"]}, "'segnet' is not defined"),
    (
        "candidate not swept",
        {"dataset": GENERATED, "models": ["unet"]},
        "key 'report.candidate': 'unetpp' is not in 'models'",
    ),
    ("bad format", {"dataset": {**GENERATED, "format": "coco"}}, "key 'dataset.format'"),
    (
        "input size not divisible",
        {"dataset": GENERATED, "train": {"input_size": [100, 320]}},
        "key 'train.input_size': height 100 is not divisible by 2**(depth-1) = 16",
    ),
    (
        "fractions not summing to one",
        {"dataset": GENERATED, "split": {"fractions": {"train": 0.5, "val": 0.1, "test": 0.1}}},
        "key 'split.fractions'",
    ),
    (
        "missing data folder",
        {"dataset": {"name": "d", "format": "camvid", "root": "/no/such/folder"}},
        "data folder '/no/such/folder' does not exist",
    ),
    (
        "warm-up as long as training",
        {"dataset": GENERATED, "train": {"epochs": 3, "warmup_epochs": 3}},
        "key 'train.warmup_epochs': 3 warm-up epochs leave none",
    ),
    (
        "head weights not one per head",
        {"dataset": GENERATED, "train": {"deep_supervision_weights": [1, 1]}},
        "key 'train.deep_supervision_weights': 2 weights for the 4 heads",
    ),
    (
        "crop higher than the generated frames",
        {"dataset": {**GENERATED, "generate": {"count": 5, "height": 128, "width": 416}}},
        "key 'augmentations': preset 'flip_crop', step 2 (RandomSizedCrop): crops up to 370 pixels in height, "
        "more than the 128-pixel frames of key 'dataset.generate.height'",
    ),
    (
        "own preset's crop wider than the generated frames",
        {
            "dataset": {**GENERATED, "generate": {"count": 5, "height": 64, "width": 100}},
            "augmentations": ["none", "strips"],
            "augmentation_presets": {
                "strips": [{"transform": "RandomSizedCrop", "min_max_height": [40, 60], "w2h_ratio": 2}]
            },
        },
        "key 'augmentation_presets.strips', step 1 (RandomSizedCrop): crops up to 120 pixels in width, more than "
        "the 100-pixel frames of key 'dataset.generate.width'",
    ),
    ("missing dataset", {"models": ["unet"]}, "'dataset' is a required property"),
    ("experiment name with a slash", {"dataset": GENERATED, "name": "a/b"}, "key 'name'"),
    ("experiment name '..'", {"dataset": GENERATED, "name": ".."}, "key 'name'"),
    (
        "bad per-model train override",
        {"dataset": GENERATED, "model_variants": {"unet": {"architecture": "unet", "train": {"epochs": 0}}}},
        "key 'model_variants.unet.train': key 'epochs'",
    ),
    (
        "unknown per-model train key",
        {"dataset": GENERATED, "model_variants": {"unet": {"architecture": "unet", "train": {"lr": 1}}}},
        "key 'model_variants.unet.train': unknown key(s) lr",
    ),
]


def _write(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize("config, message", [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_is_refused_naming_the_key(tmp_path: Path, config: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(_write(tmp_path, config))
    assert message in str(error.value)


SNAKEMAKE_CASES = [
    "unknown key",
    "zero epochs",
    "empty seeds",
    "duplicate seeds",
    "unknown preset",
    "input size not divisible",
    "missing data folder",
    "crop higher than the generated frames",
]


@pytest.mark.parametrize("case", SNAKEMAKE_CASES)
def test_snakemake_refuses_bad_config_before_any_job(tmp_path: Path, case: str) -> None:
    _, config, message = next(c for c in BAD_CONFIGS if c[0] == case)
    result = subprocess.run(
        [
            SNAKEMAKE,
            "-n",
            "--configfile",
            str(_write(tmp_path, config)),
            "--directory",
            str(tmp_path),
            "--snakefile",
            str(REPO / "workflow" / "Snakefile"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert message in output
    assert "Job stats" not in output  # no DAG was built, so no job could start


def test_defaults_fill_missing_keys(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, {"dataset": GENERATED}))
    assert config["models"] == ["unet", "unetpp"]
    assert config["train"]["batch_size"] == 8
    assert config["split"]["fractions"] == {"train": 0.7, "val": 0.15, "test": 0.15}
    assert job_settings(config, "unetpp", "none")["model"]["deep_supervision"] is True


@pytest.mark.parametrize("name", ["config.yaml", "kitti.yaml", "camvid.yaml"])
def test_shipped_configs_validate(tmp_path: Path, name: str) -> None:
    config = yaml.safe_load((REPO / "config" / name).read_text())
    if "generate" not in config["dataset"]:
        config["dataset"]["root"] = str(tmp_path)  # the real data may be absent; any folder will do
    loaded = load_config(_write(tmp_path, config))
    assert _holds(loaded, config)  # defaults only fill what the file left out
    assert set(loaded) > set(config) and {"train", "evaluate", "split", "report"} <= set(loaded)


def _holds(whole, part) -> bool:
    """Every key of `part` is in `whole` with the same value, mappings compared key by key."""
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(k in whole and _holds(whole[k], v) for k, v in part.items())
    return whole == part


def test_job_settings_hold_only_what_a_run_depends_on(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, {"dataset": GENERATED}))
    settings = job_settings(config, "unetpp", "flip_crop")
    assert settings["model"]["architecture"] == "unetpp"
    assert settings["augmentation"]["steps"][0]["transform"] == "HorizontalFlip"
    assert "report" not in settings and "seeds" not in settings
    assert "train" not in settings["model"]
    other = job_settings({**config, "report": {**config["report"], "grid_images": 9}}, "unetpp", "flip_crop")
    assert other == settings  # report settings never rerun training


def test_snakemake_dry_run_shows_the_full_fan_out() -> None:
    result = subprocess.run([SNAKEMAKE, "-n", "--forceall"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    config = load_config(REPO / "config" / "config.yaml")
    runs = len(config["models"]) * len(config["augmentations"]) * len(config["seeds"])
    stats = dict(
        line.split()[:2]
        for line in result.stdout.splitlines()
        if line.split()[:1] and line.split()[0] in {"train", "evaluate", "make_split", "aggregate", "report"}
    )
    assert stats == {"train": str(runs), "evaluate": str(runs), "make_split": "1", "aggregate": "1", "report": "1"}


def test_per_model_train_overrides_reach_only_that_model(tmp_path: Path) -> None:
    variants = {"unetpp": {"architecture": "unetpp", "train": {"batch_size": 2}}}
    config = load_config(_write(tmp_path, {"dataset": GENERATED, "model_variants": variants}))
    assert job_settings(config, "unetpp", "none")["train"]["batch_size"] == 2
    assert job_settings(config, "unet", "none")["train"]["batch_size"] == 8


def test_experiment_name_defaults_to_the_dataset_name(tmp_path: Path) -> None:
    assert experiment_name(load_config(_write(tmp_path, {"dataset": GENERATED}))) == "d"
    assert experiment_name(load_config(_write(tmp_path, {"dataset": GENERATED, "name": "d-lr3"}))) == "d-lr3"


def _reordered(value):
    """The same content with every mapping's keys in reverse order."""
    if isinstance(value, dict):
        return {key: _reordered(value[key]) for key in reversed(list(value))}
    return value


def test_training_settings_hold_only_what_changes_training(tmp_path: Path) -> None:
    from segsweep.training.state import fingerprint

    manifest = tmp_path / "split.csv"
    manifest.write_text("stem,split,image,label\n")
    config = load_config(_write(tmp_path, {"dataset": GENERATED}))

    def views(changed: dict) -> tuple[str, str, str]:
        """(training params, evaluation params, resume fingerprint) of the unetpp/none run."""
        settings = job_settings(changed, "unetpp", "none")
        return (
            canonical_json(training_settings(settings)),
            canonical_json(evaluation_settings(settings)),
            fingerprint(settings, 0, manifest),
        )

    train, evaluate, resume = views(config)
    assert "threads" not in json.loads(train)["train"] and "threads" not in json.loads(evaluate)["train"]
    # Thread count and key order change nothing; an evaluation-only key changes only the evaluation.
    assert views({**config, "train": {**config["train"], "threads": 7}}) == (train, evaluate, resume)
    assert views(_reordered(config)) == (train, evaluate, resume)
    for evaluation_only in (
        {"speed_repeats": 3},
        {"threshold": "val"},
        {"test_time_flip": True},
    ):  # val: checkpoints at 0.5
        changed = views({**config, "evaluate": {**config["evaluate"], **evaluation_only}})
        assert (changed[0], changed[2]) == (train, resume) and changed[1] != evaluate, evaluation_only
    # A training key, and the evaluate threshold that picks the best epoch on validation, rerun training.
    for changed in (
        {**config, "train": {**config["train"], "learning_rate": 0.01}},
        {**config, "evaluate": {**config["evaluate"], "threshold": 0.4}},
    ):
        other = views(changed)
        assert other[0] != train and other[1] != evaluate and other[2] != resume


def test_camvid_loso_overlay_validates_on_top_of_the_camvid_config(tmp_path: Path) -> None:
    """As snakemake --configfile config/camvid.yaml config/camvid-loso.yaml merges them (key by key)."""
    config = shipped_config("camvid.yaml", "camvid-loso.yaml")
    config["dataset"]["root"] = str(tmp_path)
    split = load_config(_write(tmp_path, config))["split"]
    assert (split["test_groups"], split["hold_out_each"], split["val_cut"]) == (
        [],
        ["0001TP", "0006R0", "0016E5"],
        "group_tails",
    )
