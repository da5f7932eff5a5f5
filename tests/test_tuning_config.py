"""The tuning stage's config: identical seeded draws for every model, the distributions' ranges,
and bad spaces, trials and seeds refused before any job, naming the key."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

from segsweep.config import job_settings, load_config
from segsweep.config.checks import training_jobs
from segsweep.config.tuning import draw_trial, trial_configurations
from segsweep.errors import ConfigError

GENERATED = {"name": "d", "format": "kitti_semantics", "root": "results/data/d", "generate": {"count": 5}}
SPACE = {
    "train.learning_rate": {"loguniform": [1e-4, 1e-2]},
    "train.batch_size": {"choice": [4, 8]},
    "train.warmup_epochs": {"int_uniform": [0, 2]},
}
TUNE = {"trials": 6, "seeds": [100], "space": SPACE}


def _load(tmp_path: Path, **keys) -> dict:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"dataset": GENERATED, "train": {"epochs": 4}, **keys}))
    return load_config(path)


def test_every_model_gets_the_same_trial_configurations(tmp_path: Path) -> None:
    config = _load(tmp_path, models=["unet", "unet_wide", "unetpp"], tune=TUNE)
    trials = {name: [job["train"] for where, job in training_jobs(config, name) if where] for name in config["models"]}
    drawn = [[trial[key] for key in ("learning_rate", "batch_size", "warmup_epochs")] for trial in trials["unet"]]
    assert len(drawn) == 6 and len({tuple(d) for d in drawn}) > 1  # six trials, not one repeated
    assert trials["unet"] == trials["unetpp"] == trials["unet_wide"]
    # ... and the model list does not enter the draws: a sweep of one model draws the same trials.
    alone = _load(tmp_path, models=["unetpp", "unet"], report={"baseline": "unetpp", "candidate": "unet"}, tune=TUNE)
    assert [job["train"] for where, job in training_jobs(alone, "unet") if where] == trials["unet"]


def test_a_trial_keeps_its_draws_when_trials_grow_or_another_key_changes() -> None:
    six, eight = trial_configurations(TUNE), trial_configurations({**TUNE, "trials": 8})
    assert eight[:6] == six
    narrower = trial_configurations({**TUNE, "space": {**SPACE, "train.batch_size": {"choice": [2, 16]}}})
    assert [t["train.learning_rate"] for t in narrower] == [t["train.learning_rate"] for t in six]
    assert trial_configurations({**TUNE, "sampler_seed": 1}) != six


def test_draws_follow_their_distributions() -> None:
    space = {
        "train.learning_rate": {"loguniform": [1e-4, 1e-2]},
        "train.dropout_like": {"uniform": [0.2, 0.6]},
        "train.epochs": {"int_uniform": [3, 5]},
        "train.batch_size": {"choice": [4, 8, 16]},
    }
    draws = [draw_trial(space, trial) for trial in range(3000)]
    log_rate = np.log10([d["train.learning_rate"] for d in draws])
    # loguniform on [1e-4, 1e-2]: log10 uniform on [-4, -2]; uniform on [0.2, 0.6] (KS tests at 1%).
    assert stats.kstest(log_rate, stats.uniform(-4, 2).cdf).pvalue > 0.01
    assert stats.kstest([d["train.dropout_like"] for d in draws], stats.uniform(0.2, 0.4).cdf).pvalue > 0.01
    epochs = [d["train.epochs"] for d in draws]
    assert set(epochs) == {3, 4, 5} and all(isinstance(e, int) for e in epochs)  # both ends included
    counts = np.unique([d["train.batch_size"] for d in draws], return_counts=True)[1]
    assert stats.chisquare(counts).pvalue > 0.01
    assert all(math.isfinite(d["train.learning_rate"]) for d in draws)


BAD_TUNING = [
    (
        "not a training setting",
        {**TUNE, "space": {"network.dropout": {"uniform": [0, 0.5]}}},
        "key 'tune.space': 'network.dropout' is not a training setting",
    ),
    (
        "unknown train key",
        {**TUNE, "space": {"train.lr": {"uniform": [0.1, 0.5]}}},
        "'train.lr' is not a training setting",
    ),
    (
        "thread count",
        {**TUNE, "space": {"train.threads": {"choice": [1, 2]}}},
        "'train.threads' is not a training setting",
    ),
    (
        "low >= high",
        {**TUNE, "space": {"train.learning_rate": {"loguniform": [1e-2, 1e-3]}}},
        "key 'tune.space.train.learning_rate.loguniform': low 0.01 is not below high 0.001",
    ),
    ("low == high", {**TUNE, "space": {"train.epochs": {"int_uniform": [3, 3]}}}, "low 3 is not below high 3"),
    (
        "empty choice",
        {**TUNE, "space": {"train.batch_size": {"choice": []}}},
        "key 'tune.space.train.batch_size.choice': the list of choices is empty",
    ),
    ("two distributions", {**TUNE, "space": {"train.epochs": {"choice": [2], "uniform": [1, 2]}}}, "key 'tune.space"),
    ("zero trials", {**TUNE, "trials": 0}, "key 'tune.trials'"),
    ("seeds overlap", {**TUNE, "seeds": [2, 7]}, "keys 'tune.seeds' and 'seeds' both hold [2]"),
    (
        "drawn value the schema refuses",
        {**TUNE, "space": {"train.batch_size": {"uniform": [2, 8]}}},
        "key 'tune.space', trial 0",
    ),
    (
        "drawn warm-up as long as training",
        {**TUNE, "space": {"train.warmup_epochs": {"int_uniform": [2, 4]}}},
        "key 'train.warmup_epochs'",
    ),
]


@pytest.mark.parametrize("tune, message", [c[1:] for c in BAD_TUNING], ids=[c[0] for c in BAD_TUNING])
def test_bad_tuning_is_refused_naming_the_key(tmp_path: Path, tune: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, tune=tune)
    assert message in str(error.value)


def test_tuning_is_off_by_default(tmp_path: Path) -> None:
    config = _load(tmp_path)
    assert "tune" not in config
    assert [where for where, _ in training_jobs(config, "unet")] == [None]
    assert job_settings(config, "unet", "none")["train"]["epochs"] == 4


def test_a_job_reads_its_chosen_configuration_when_it_starts(tmp_path):
    """The rules pass --chosen tune/MODEL/chosen.json, read by the job: a re-tune rewrites the file
    after Snakemake has built its DAG, so its content must not be cut into the job's params then."""
    from segsweep.config import canonical_json
    from segsweep.config.loader import settings_from_args

    chosen = tmp_path / "chosen.json"
    chosen.write_text('{"trial": 3, "train": {"learning_rate": 0.004, "warmup_epochs": 1}}')
    settings = {"train": {"learning_rate": 0.001, "warmup_epochs": 0, "epochs": 5}, "model": {"name": "unet"}}
    merged = settings_from_args(canonical_json(settings), None, "", "", chosen)
    assert merged["train"] == {"learning_rate": 0.004, "warmup_epochs": 1, "epochs": 5}
    assert settings_from_args(canonical_json(settings), None, "", "") == settings
    chosen.write_text("{}")
    with pytest.raises(ConfigError, match="--chosen .*not a tuning choice"):
        settings_from_args(canonical_json(settings), None, "", "", chosen)
