"""The config's `models` list: each entry a model's name (built in, or in ``model_variants``) or a
user's model ``{name, builder, args}`` (built by `segsweep.models.plugin`).

Everything that uses the sweep's models as names goes through `model_names`, so a mapping
entry is never taken for a name. Standard library only: the builder's module is found (for its
source file's hash) but not imported here; `segsweep.models.plugin.check_user_models` builds
each user model before any job is queued.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from segsweep.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")


def module_and_name(path: str, key: str) -> tuple[str, str]:
    """``"package.module:function"`` split in two; anything else refused naming `key`."""
    if not isinstance(path, str) or not _DOTTED.match(path):
        raise ConfigError(f"key '{key}': {path!r} is not a builder path of the form 'package.module:function'")
    module, name = path.split(":")
    return module, name


def builder_source_sha256(path: str, key: str) -> str:
    """sha256 of the builder module's source file, found without importing it: editing the file
    changes what a training fingerprint hashes, so that model retrains and no other."""
    module, _ = module_and_name(path, key)
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as error:
        raise ConfigError(f"key '{key}': cannot find module {module!r} of builder {path!r}: {error}") from None
    if spec is None or not spec.origin or not Path(spec.origin).is_file():
        raise ConfigError(
            f"key '{key}': cannot find module {module!r} of builder {path!r} "
            "(is its folder on PYTHONPATH or in 'pythonpath'?)"
        )
    return hashlib.sha256(Path(spec.origin).read_bytes()).hexdigest()


def model_names(config: dict) -> list[str]:
    """The sweep's model names, in config order."""
    return [entry if isinstance(entry, str) else entry["name"] for entry in config["models"]]


def user_entries(config: dict) -> list[tuple[int, dict]]:
    return [(i, entry) for i, entry in enumerate(config["models"]) if isinstance(entry, dict)]


def user_model_variants(config: dict) -> dict[str, dict]:
    """The model variants of the user's entries, as `job_settings` merges them: the builder path,
    its args and its source file's sha256, so that a training job's params (and its resume
    fingerprint) change when any of them does, and only that model's do."""
    add_pythonpath(config)
    return {
        entry["name"]: {
            "architecture": "custom",
            "builder": entry["builder"],
            "args": entry.get("args", {}),
            "builder_sha256": builder_source_sha256(entry["builder"], f"models[{i}].builder"),
        }
        for i, entry in user_entries(config)
    }


def check_model_names(config: dict, defined: Iterable[str]) -> None:
    """Each model named once; a user's entry not named as a built-in model or variant (it would
    hide it); every name entry defined."""
    names = model_names(config)
    twice = [name for name, count in Counter(names).items() if count > 1]
    if twice:
        where = [f"models[{i}]" for i, name in enumerate(names) if name == twice[0]]
        raise ConfigError(
            f"key 'models': {' and '.join(where)} are both named {twice[0]!r}; give each model its own name"
        )
    defined = list(defined)
    for i, entry in user_entries(config):
        if entry["name"] in defined:
            raise ConfigError(
                f"key 'models[{i}].name': {entry['name']!r} is the name of a built-in model or model_variants entry; "
                "give your model a name of its own"
            )
    for i, name in enumerate(names):
        if isinstance(config["models"][i], str) and name not in defined:
            raise ConfigError(
                f"key 'models': {name!r} is not defined in 'model_variants' (defined: {', '.join(defined)})"
            )


def add_pythonpath(config: dict, repo: Path = REPO) -> list[str]:
    """The `pythonpath` folders, absolute (relative ones are under the repository), put first on
    this process's ``sys.path``; the workflow also exports them to every job in ``PYTHONPATH``."""
    folders = [str((Path(repo) / folder).resolve()) for folder in config.get("pythonpath", [])]
    for folder in reversed(folders):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    return folders
