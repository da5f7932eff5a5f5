"""The config's JSON schema (schema.yaml beside this file) and the validator that fills its defaults.

The Snakefile validates with `snakemake.utils.validate` against the same file; commands run by
hand with ``--config FILE`` use `validator_with_defaults`, so a job sees identical settings
either way.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import yaml

SCHEMA_PATH = Path(__file__).resolve().parent / "schema.yaml"


@functools.cache
def schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def validator_with_defaults():
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


def schema_error_text(error, source: str) -> str:
    key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    return f"{source}: key '{key}': {error.message}"


def describe_schema_error(error: Exception) -> str:
    """One line naming the key, from Snakemake's WorkflowError around a jsonschema error."""
    import jsonschema

    cause = error.__context__  # Snakemake raises its WorkflowError while handling this one
    if not isinstance(cause, jsonschema.ValidationError):
        return str(error)
    best = jsonschema.exceptions.best_match([cause, *cause.context]) if cause.context else cause
    return schema_error_text(best, "invalid config")
