"""The `sequential` config key: refused before any job when it cannot be kept, naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from segsweep.config import load_config, schema
from segsweep.config.sequential import Schedule
from segsweep.errors import ConfigError
from segsweep.statistics.sequential import SPENDING

GENERATED = {"name": "d", "format": "kitti_semantics", "root": "results/data/d", "generate": {"count": 5}}
SEQUENTIAL = {"looks": 3, "seeds_per_look": 2}

BAD = [
    ("no looks", {"looks": 0, "seeds_per_look": 2}, [0, 1], "key 'sequential.looks'"),
    ("no seeds per look", {"looks": 2, "seeds_per_look": 0}, [0, 1], "key 'sequential.seeds_per_look'"),
    (
        "max_seeds under one look",
        {**SEQUENTIAL, "max_seeds": 1},
        [0, 1, 2],
        "key 'sequential.max_seeds': 1 is smaller than one look",
    ),
    ("alpha of 0", {**SEQUENTIAL, "alpha": 0}, list(range(6)), "key 'sequential.alpha'"),
    ("alpha of 0.5", {**SEQUENTIAL, "alpha": 0.5}, list(range(6)), "key 'sequential.alpha'"),
    ("unknown spending", {**SEQUENTIAL, "spending": "haybittle"}, list(range(6)), "key 'sequential.spending'"),
    ("fewer seeds than max_seeds", SEQUENTIAL, [0, 1, 2], "'sequential.max_seeds' is 6, but 'seeds' holds 3"),
    ("unknown key", {**SEQUENTIAL, "budget": 3}, list(range(6)), "'budget' was unexpected"),
    ("a cap of 0 hours", {**SEQUENTIAL, "max_device_hours": 0}, list(range(6)), "key 'sequential.max_device_hours'"),
]


def _load(tmp_path: Path, sequential: dict, seeds: list[int]) -> dict:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"dataset": GENERATED, "seeds": seeds, "sequential": sequential}))
    return load_config(path)


@pytest.mark.parametrize("sequential, seeds, message", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_sequential_config_is_refused_naming_the_key(tmp_path, sequential, seeds, message):
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, sequential, seeds)
    assert message in str(error.value)


def test_defaults_and_schedule(tmp_path):
    config = _load(tmp_path, SEQUENTIAL, list(range(6)))
    assert config["sequential"] == {
        **SEQUENTIAL,
        "max_seeds": None,
        "alpha": 0.05,
        "spending": "obrien_fleming",
        "max_device_hours": None,
    }
    schedule = Schedule.from_config(config["sequential"])
    assert (schedule.max_seeds, schedule.last_look, [schedule.seeds_at(k) for k in (1, 2, 3)]) == (6, 3, [2, 4, 6])
    assert "sequential" not in load_config(_write_plain(tmp_path))  # off unless asked for


def _write_plain(tmp_path: Path) -> Path:
    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump({"dataset": GENERATED}))
    return path


def test_the_schema_offers_exactly_the_spending_functions_there_are():
    assert schema()["properties"]["sequential"]["properties"]["spending"]["enum"] == list(SPENDING)
