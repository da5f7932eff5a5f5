"""Read a config file by hand (``--config FILE``), or a job's settings from ``--settings JSON``.

The Snakefile validates with `snakemake.utils.validate` and runs `check_config`; `load_config`
applies the same schema, defaults and checks, so a job sees identical settings either way.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from segsweep.config.checks import check_config
from segsweep.config.models import model_names
from segsweep.config.presets import augmentation_presets, model_variants
from segsweep.config.schema import schema, schema_error_text, validator_with_defaults
from segsweep.config.settings import job_settings, split_settings
from segsweep.config.tuning import with_train
from segsweep.errors import ConfigError


def merged(base: dict, changes: dict) -> dict:
    """`changes` merged over a copy of `base`, mappings key by key at every depth: how Snakemake
    merges a second --configfile over the first."""
    result = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def load_config(*paths: str | Path) -> dict[str, Any]:
    """Read YAML config files (each later one merged over the earlier, as Snakemake merges
    --configfile A B), fill defaults from the schema, and run every check."""
    config: dict[str, Any] = {}
    for path in map(Path, paths):
        try:
            config = merged(config, yaml.safe_load(path.read_text()) or {})
        except OSError as error:
            raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
        except yaml.YAMLError as error:
            raise ConfigError(f"config file {path} is not valid YAML: {error}") from None
    errors = sorted(validator_with_defaults()(schema()).iter_errors(config), key=lambda e: list(e.path))
    if errors:
        raise ConfigError(schema_error_text(errors[0], f"config file {' + '.join(map(str, paths))}"))
    check_config(config)
    return config


def add_chosen_argument(parser) -> None:
    parser.add_argument(
        "--chosen",
        type=Path,
        metavar="chosen.json",
        help="a tuned model's chosen configuration (tune/MODEL/chosen.json): its train keys win",
    )


def settings_from_args(
    settings_json: str | None, config_path: str | None, model: str, aug: str, chosen: Path | None = None
) -> dict:
    """Job settings from ``--settings JSON`` (what the rules pass) or ``--config FILE`` (by hand), with a
    tuned model's chosen `train` keys (``--chosen``) over them."""
    settings = _job_settings(settings_json, config_path, model, aug)
    if chosen is None:
        return settings
    try:
        return with_train(settings, json.loads(chosen.read_text())["train"])
    except (OSError, ValueError, KeyError) as error:
        raise ConfigError(f"--chosen {chosen}: not a tuning choice ({error})") from None


def _job_settings(settings_json: str | None, config_path: str | None, model: str, aug: str) -> dict:
    if settings_json:
        return _parsed(settings_json)
    if config_path:
        if not (model and aug):
            raise ConfigError("--config FILE needs --model NAME and --aug PRESET (which run of the sweep)")
        config = load_config(config_path)
        if model not in model_names(config) and model not in model_variants(config):
            raise ConfigError(
                f"--model {model!r}: not a model of {config_path} (models: {', '.join(model_names(config))})"
            )
        if aug not in augmentation_presets(config):
            raise ConfigError(
                f"--aug {aug!r}: no such preset in {config_path} ({', '.join(augmentation_presets(config))})"
            )
        return job_settings(config, model, aug)
    raise ConfigError("give --settings JSON (as the workflow does) or --config FILE")


def split_settings_from_args(settings_json: str | None, config_path: str | None) -> dict:
    """`segsweep split`'s settings from ``--settings JSON`` (what the rule passes) or ``--config FILE``
    (by hand); make_split checks them with the config's own check_split."""
    if settings_json:
        settings = _parsed(settings_json)
        missing = [key for key in ("dataset", "split") if not isinstance(settings.get(key), dict)]
        if missing or not {"format", "root"} <= set(settings["dataset"]):
            raise ConfigError(
                '--settings needs {"dataset": {"format": ..., "root": ...}, "split": {...}} '
                "(segsweep.config.split_settings of a config)"
            )
        return settings
    if config_path:
        return split_settings(load_config(config_path))
    raise ConfigError("give --settings JSON (as the workflow does) or --config FILE")


def _parsed(settings_json: str) -> dict:
    try:
        settings = json.loads(settings_json)
    except json.JSONDecodeError as error:
        raise ConfigError(f"--settings is not valid JSON: {error}") from None
    if not isinstance(settings, dict):
        raise ConfigError("--settings must be a JSON object")
    return settings
