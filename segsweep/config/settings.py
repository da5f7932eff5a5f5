"""Cut the per-job settings out of a checked config: what each job reads, and what its result
depends on (the rules' params, so Snakemake reruns exactly the jobs a change affects)."""

from __future__ import annotations

import json
from typing import Any

from segsweep.config.choice import checkpoint_threshold
from segsweep.config.presets import augmentation_presets, model_variants


def experiment_name(config: dict) -> str:
    """The experiment's folder under results/: key `name`, else the dataset's name."""
    return config.get("name") or config["dataset"]["name"]


def model_and_train(config: dict, model: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A model's settings as `build_model` takes them, and its `train` settings (the config's, with
    its variant's overrides)."""
    variant = {"deep_supervision": True, **model_variants(config)[model]}
    train_overrides = variant.pop("train", {})
    network = {"name": model, **variant, **config["network"]}
    # The class list resolved by segsweep.data.task; binary road has none, and its settings stay as they were.
    classes = config["dataset"].get("classes")
    if isinstance(classes, list):
        network["classes"] = len(classes)
    return network, {**config["train"], **train_overrides}


def job_settings(config: dict, model: str, aug: str) -> dict[str, Any]:
    """Everything the jobs of one run read (its thread count included); the rules pass each job
    only its part of it: `training_settings` or `evaluation_settings`. A compute-matched model
    (`train.budget`) also carries its reference's `budget_reference`."""
    model_settings, train = model_and_train(config, model)
    settings = {
        "dataset": config["dataset"],
        "model": model_settings,
        "augmentation": {"name": aug, "steps": augmentation_presets(config)[aug]},
        "train": train,
        "evaluate": config["evaluate"],
    }
    if "budget" in train:
        settings["budget_reference"] = budget_reference(config, train["budget"]["reference"])
    return settings


def budget_reference(config: dict, reference: str) -> dict[str, Any]:
    """What a compute-matched run's epochs depend on besides its own model: the reference model as it
    is built, and the epochs and size it trains at (`training_size`, under the key input_size that
    runs compute-matched before patches existed were fingerprinted with). In the run's training settings, so that a
    change to the reference reruns the matched runs too (and discards their saved epochs); the
    reference's other keys (its learning rate, say) change nothing here. Called only for a checked
    config: the reference is a swept model without a budget (segsweep.config.checks.check_budgets)."""
    model, train = model_and_train(config, reference)
    return {"model": model, "epochs": train["epochs"], "input_size": training_size(train)}


def network_input_shape(train: dict) -> tuple:
    """The input shape a run's network is built with: (height, width, 3) at input_size, or, where
    it trains on patches and is evaluated on whole frames, (None, None, 3): any size."""
    return (*train["input_size"], 3) if train.get("patch_size") is None else (None, None, 3)


def training_size(train: dict) -> list[int]:
    """Height and width of what one training step sees per image: the patch, or the whole resized frame."""
    return list(train.get("patch_size") or train["input_size"])


# The dataset keys a split manifest depends on: where the pairs are, how they are read, which label is road.
SPLIT_DATASET_KEYS = ("format", "root", "folder", "positive_ids", "void_ids")


def split_settings(config: dict) -> dict[str, Any]:
    """What `segsweep split` reads, and what its manifests depend on (the make_split rule's params):
    the dataset keys of SPLIT_DATASET_KEYS and the `split` mapping. The dataset's name, or how the
    folder is made (generate, download), never re-splits it."""
    dataset = config["dataset"]
    return {"dataset": {key: dataset[key] for key in SPLIT_DATASET_KEYS if key in dataset}, "split": config["split"]}


# Keys that say how fast a job runs, never what it computes (the rule's `threads`, `--threads`).
SPEED_ONLY_TRAIN_KEYS = ("threads",)


def training_settings(settings: dict) -> dict[str, Any]:
    """The part of job settings a training run's result depends on: what the train rule passes,
    and what the resume fingerprint hashes. An evaluation-only key or a thread count changed
    later never reruns a training job nor discards its saved epochs. Of `evaluate`, training
    uses only the threshold of the validation IoU that picks its best epoch (0.5 where the
    evaluation chooses its threshold on val): that value is kept, not the config's."""
    part = {key: value for key, value in settings.items() if key != "evaluate"}
    if "train" in part:
        part["train"] = {k: v for k, v in part["train"].items() if k not in SPEED_ONLY_TRAIN_KEYS}
    if "evaluate" in settings:
        part["evaluate"] = {"threshold": checkpoint_threshold(settings["evaluate"])}
    return part


def evaluation_settings(settings: dict) -> dict[str, Any]:
    """What an evaluation depends on besides its trained model: the training settings (the model's
    input size, the dataset) and every `evaluate` key; the thread count is left out."""
    return {**training_settings(settings), **({"evaluate": settings["evaluate"]} if "evaluate" in settings else {})}


def job_threads(config: dict, model: str, aug: str) -> int:
    """CPU threads of the run's jobs: `train.threads`, or the model variant's override of it."""
    return job_settings(config, model, aug)["train"]["threads"]


def canonical_json(settings: dict) -> str:
    """One text for one content: sorted keys, so that the order keys were written in never
    changes a rule's params (Snakemake reruns a job whose params text changed)."""
    return json.dumps(settings, sort_keys=True, separators=(",", ":"))
