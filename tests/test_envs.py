"""The conda environment for cluster jobs pins exactly what pyproject.toml pins."""

from __future__ import annotations

import re
import tomllib

import yaml

from conftest import REPO


def _pins(requirements: list[str]) -> dict[str, str]:
    """name -> version, ignoring extras such as tensorflow[and-cuda]."""
    pins = {}
    for line in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;]+)", line.strip())
        assert match, f"not an exact pin: {line!r}"
        pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def test_conda_envs_pin_the_same_packages_as_pyproject() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    expected = _pins(project["dependencies"])
    env_files = sorted((REPO / "workflow" / "envs").glob("*.yaml"))
    assert env_files, "workflow/envs/ holds no conda environment"
    for env_file in env_files:
        env = yaml.safe_load(env_file.read_text())
        pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
        assert _pins(pip_section) == expected, f"{env_file.name} disagrees with pyproject.toml"


def test_every_rule_names_the_conda_env_by_a_path_relative_to_its_file() -> None:
    """`conda:` paths are resolved from the rule file, so the workflow works from any checkout
    (`snakemake --lint`, in test_workflow.py, checks that every rule has one)."""
    common = (REPO / "workflow" / "rules" / "common.smk").read_text()
    env = re.search(r'^CONDA_ENV = "([^"]+)"', common, re.MULTILINE)
    assert env and not env.group(1).startswith("/"), "CONDA_ENV is not a relative path"
    assert (REPO / "workflow" / "rules" / env.group(1)).resolve() == REPO / "workflow" / "envs" / "segsweep.yaml"
