"""Load and check the workflow config, and cut the per-job settings out of it.

The Snakefile validates with `snakemake.utils.validate`; commands run by hand with
``--config FILE`` go through `load_config`, which applies the same schema and defaults, so a
job sees identical settings either way.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import yaml

from segsweep.errors import ConfigError
from segsweep.training.checks import check_input_size, check_warmup, deep_supervision_weights
from segsweep.training.presets import BUILTIN_PRESETS

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"


@functools.cache
def _schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _validator_with_defaults():
    """A jsonschema validator that fills defaults, as Snakemake's `validate(set_default=True)`."""
    import jsonschema

    base = jsonschema.Draft202012Validator

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = json.loads(json.dumps(sub["default"]))
        yield from base.VALIDATORS["properties"](validator, properties, instance, schema)

    return jsonschema.validators.extend(base, {"properties": set_defaults})


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML config, fill defaults from the schema, and run every check."""
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid YAML: {error}") from None
    errors = sorted(_validator_with_defaults()(_schema()).iter_errors(config), key=lambda e: list(e.path))
    if errors:
        raise ConfigError(_schema_error_text(errors[0], f"config file {path}"))
    check_config(config)
    return config


# Built-in model variants; config key `model_variants` adds to or overrides them. The two fair
# baselines of the U-Net++ paper: `unet_wide`, a U-Net with U-Net++'s parameter count (within
# 2%, at the same network.filters: segsweep.models.widths), and `unetpp_nods`, U-Net++ with one
# head and no deep supervision.
BUILTIN_MODEL_VARIANTS: dict[str, dict] = {
    "unet": {"architecture": "unet"},
    "unetpp": {"architecture": "unetpp", "deep_supervision": True},
    "unet_wide": {"architecture": "unet", "match_unetpp_parameters": True},
    "unetpp_nods": {"architecture": "unetpp", "deep_supervision": False},
}


def augmentation_presets(config: dict) -> dict[str, list[dict]]:
    return {**BUILTIN_PRESETS, **config.get("augmentation_presets", {})}


def model_variants(config: dict) -> dict[str, dict]:
    return {**BUILTIN_MODEL_VARIANTS, **config.get("model_variants", {})}


def check_config(config: dict) -> None:
    """Checks that span several keys, which the JSON schema cannot express."""
    variants = model_variants(config)
    for name in config["models"]:
        if name not in variants:
            raise ConfigError(
                f"key 'models': {name!r} is not defined in 'model_variants' (defined: {', '.join(variants)})"
            )
    presets = augmentation_presets(config)
    for name in config["augmentations"]:
        if name not in presets:
            raise ConfigError(
                f"key 'augmentations': no preset named {name!r} (built-in or in 'augmentation_presets': "
                f"{', '.join(presets)})"
            )
    train_keys = _schema()["properties"]["train"]["properties"]
    for name, variant in variants.items():
        unknown = set(variant.get("train", {})) - set(train_keys)
        if unknown:
            raise ConfigError(f"key 'model_variants.{name}.train': unknown key(s) {', '.join(sorted(unknown))}")
        errors = list(_validator_with_defaults()(_schema()["properties"]["train"]).iter_errors(
            {**config["train"], **variant.get("train", {})}))
        if errors:
            raise ConfigError(_schema_error_text(errors[0], f"key 'model_variants.{name}.train'"))
    for name in config["models"]:  # the checks training makes, here before any job is queued
        job = job_settings(config, name, "none")
        check_input_size(config["network"]["filters"], job["train"]["input_size"])
        check_warmup(job["train"]["warmup_epochs"], job["train"]["epochs"])
        deep_supervision_weights(job["train"], job["model"])
    fractions = config["split"]["fractions"]
    if abs(sum(fractions.values()) - 1.0) > 1e-6:
        raise ConfigError(f"key 'split.fractions': train + val + test must be 1, got {sum(fractions.values()):g}")
    split = config["split"]
    axes = [f"'split.{key}'" for key, on in (
        ("repeats", split["repeats"] > 1), ("folds", split["folds"] is not None), ("hold_out_each", split["hold_out_each"]),
    ) if on]  # fmt: skip
    if len(axes) > 1:
        raise ConfigError(f"keys {' and '.join(axes)} are different kinds of split axis: set one of them")
    both = sorted(set(split["hold_out_each"]) & set(split["test_groups"]))
    if both:
        raise ConfigError(f"keys 'split.test_groups' and 'split.hold_out_each' both hold {both}: a group is in one of them")
    dataset = config["dataset"]
    made_by_rule = "generate" in dataset or "download" in dataset
    if not made_by_rule and not Path(dataset["root"]).is_dir():
        raise ConfigError(
            f"key 'dataset.root': data folder {dataset['root']!r} does not exist "
            "(and neither 'dataset.generate' nor 'dataset.download' is set to make it)"
        )
    for role in ("baseline", "candidate"):
        name = config["report"][role]
        if name not in config["models"]:
            raise ConfigError(
                f"key 'report.{role}': {name!r} is not in 'models' ({', '.join(config['models'])}): "
                "the report compares the candidate with the baseline"
            )
    if config["report"]["baseline"] == config["report"]["candidate"]:
        raise ConfigError("keys 'report.baseline' and 'report.candidate' name the same model")


def experiment_name(config: dict) -> str:
    """The experiment's folder under results/: key `name`, else the dataset's name."""
    return config.get("name") or config["dataset"]["name"]


def job_settings(config: dict, model: str, aug: str) -> dict[str, Any]:
    """Everything the jobs of one run read (its thread count included); the rules pass each job
    only its part of it: `training_settings` or `evaluation_settings`."""
    variant = {"deep_supervision": True, **model_variants(config)[model]}
    train_overrides = variant.pop("train", {})
    return {
        "dataset": config["dataset"],
        "model": {"name": model, **variant, **config["network"]},
        "augmentation": {"name": aug, "steps": augmentation_presets(config)[aug]},
        "train": {**config["train"], **train_overrides},
        "evaluate": config["evaluate"],
    }


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
        from segsweep.evaluation.choice import checkpoint_threshold

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


def settings_from_args(settings_json: str | None, config_path: str | None, model: str, aug: str) -> dict:
    """Job settings from ``--settings JSON`` (what the rules pass) or ``--config FILE`` (by hand)."""
    if settings_json:
        try:
            return json.loads(settings_json)
        except json.JSONDecodeError as error:
            raise ConfigError(f"--settings is not valid JSON: {error}") from None
    if config_path:
        if not (model and aug):
            raise ConfigError("--config FILE needs --model NAME and --aug PRESET (which run of the sweep)")
        config = load_config(config_path)
        if model not in config["models"] and model not in model_variants(config):
            raise ConfigError(f"--model {model!r}: not a model of {config_path} (models: {', '.join(config['models'])})")
        if aug not in augmentation_presets(config):
            raise ConfigError(f"--aug {aug!r}: no such preset in {config_path} ({', '.join(augmentation_presets(config))})")
        return job_settings(config, model, aug)
    raise ConfigError("give --settings JSON (as the workflow does) or --config FILE")


def _schema_error_text(error, source: str) -> str:
    key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    return f"{source}: key '{key}': {error.message}"


def describe_schema_error(error: Exception) -> str:
    """One line naming the key, from Snakemake's WorkflowError around a jsonschema error."""
    import jsonschema

    cause = error.__context__  # Snakemake raises its WorkflowError while handling this one
    if not isinstance(cause, jsonschema.ValidationError):
        return str(error)
    best = jsonschema.exceptions.best_match([cause, *cause.context]) if cause.context else cause
    return _schema_error_text(best, "invalid config")
