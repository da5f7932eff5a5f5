"""The workflow config: its schema (`schema.yaml`), the checks the schema cannot express, the
built-in presets, and the per-job settings cut out of it.

Modules, each importing only those above it:
  schema.py    the JSON schema and the validator that fills its defaults
  models.py    the `models` list: names, user models' entries ({name, builder, args}), pythonpath
  presets.py   built-in augmentation presets and model variants
  choice.py    the config's words for the evaluation's choices (``threshold: val``)
  settings.py  per-job settings and the params that decide what reruns
  checks.py    cross-key checks, made before any job is queued (the split's, and the compared
               models', also where a step is run by hand)
  loader.py    ``--config FILE`` and ``--settings JSON``

The config is the first stage: it imports nothing of segsweep but errors (tests/test_imports.py).
"""

from segsweep.config.checks import check_comparison, check_config, check_split, split_count
from segsweep.config.loader import load_config, settings_from_args, split_settings_from_args
from segsweep.config.models import add_pythonpath, model_names
from segsweep.config.presets import (
    BUILTIN_MODEL_VARIANTS,
    BUILTIN_PRESETS,
    augmentation_presets,
    model_variants,
)
from segsweep.config.schema import SCHEMA_PATH, describe_schema_error, schema
from segsweep.config.settings import (
    canonical_json,
    evaluation_settings,
    experiment_name,
    job_settings,
    job_threads,
    split_settings,
    training_settings,
)

__all__ = [
    "BUILTIN_MODEL_VARIANTS",
    "BUILTIN_PRESETS",
    "add_pythonpath",
    "SCHEMA_PATH",
    "augmentation_presets",
    "canonical_json",
    "check_comparison",
    "check_config",
    "check_split",
    "describe_schema_error",
    "evaluation_settings",
    "experiment_name",
    "job_settings",
    "job_threads",
    "load_config",
    "model_names",
    "model_variants",
    "schema",
    "settings_from_args",
    "split_count",
    "split_settings",
    "split_settings_from_args",
    "training_settings",
]
