"""The walkthrough of docs/own-model.md as a test: examples/own_model/ (its builder
and its config, `format: folder`) swept against `unet` through the real workflow, then what an
edit of the builder file plans again, and the bad input refused before any job is queued.

The builder file is copied into the scratch folder and `pythonpath` pointed there, so the test
edits the copy, never the repository's file.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

import workflow_runner as wf
from conftest import REPO

EXAMPLE = REPO / "examples" / "own_model"
MODELS = ("unet", "attention_unet")


def example_config(builder_folder: Path, **overrides) -> dict:
    config = yaml.safe_load((EXAMPLE / "config.yaml").read_text())
    return {**config, "pythonpath": [str(builder_folder)], **overrides}


@pytest.fixture(scope="module")
def finished_example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    workdir = tmp_path_factory.mktemp("own_model")
    builders = workdir / "builders"
    builders.mkdir()
    shutil.copy(EXAMPLE / "attention_unet.py", builders)
    code, out = wf.run(workdir, example_config(builders), "--cores", "2", timeout=300)
    assert code == 0, out[-4000:]
    return workdir, builders


@pytest.mark.slow
def test_the_user_model_is_swept_against_unet_end_to_end(finished_example) -> None:
    workdir, _ = finished_example
    exp = workdir / "results" / "own_model"
    for model in MODELS:
        run = json.loads((exp / "runs" / model / "none" / "split0" / "seed0" / "run.json").read_text())
        assert run["model"] == model
        metrics = json.loads((exp / "eval" / model / "none" / "split0" / "seed0" / "metrics.json").read_text())
        assert 0 <= metrics["pooled"]["iou"] <= 1 and metrics["training_flops_per_image"] > 0
        # the two heads of the user's model give it inference modes, chosen on val as U-Net++'s are
        assert [m["mode"] for m in metrics["modes"]] == (["accurate", "L1", "L2"] if model != "unet" else [])
    models = {row["model"]: row for row in _csv_rows(exp / "aggregate" / "models.csv")}
    assert set(models) == set(MODELS) and all(float(models[m]["parameters"]) > 0 for m in MODELS)
    html = (exp / "report.html").read_text()
    assert "attention_unet" in html


def _csv_rows(path: Path) -> list[dict]:
    import pandas as pd

    return pd.read_csv(path).to_dict("records")


@pytest.mark.slow
def test_editing_the_builder_file_plans_its_training_again_and_only_its(finished_example) -> None:
    workdir, builders = finished_example
    config = example_config(builders)
    code, out = wf.run(workdir, config, "-n")
    assert code == 0 and "Nothing to be done" in out, out[-3000:]
    builder = builders / "attention_unet.py"
    original = builder.read_text()
    builder.write_text(original + "# tuned\n")
    try:
        code, out = wf.run(workdir, config, "-n", "--printshellcmds")
    finally:
        builder.write_text(original)
    assert code == 0, out[-3000:]
    assert wf.planned_jobs(out) == {"train": 1, "evaluate": 1, "aggregate": 1, "report": 1, "all": 1}
    assert "wildcards: model=attention_unet, aug=none" in out and "wildcards: model=unet," not in out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"builder": "no_such_module:build"}, r"key 'models\[1\].builder': cannot (find|import) module 'no_such_module'"),
        ({"builder": "attention_unet:missing"}, r"key 'models\[1\].builder': 'missing' in module 'attention_unet' .* is nothing"),
        ({"args": {"width": 4, "depth": 3}}, r"key 'models\[1\].builder'.*unexpected keyword argument 'depth'"),
        ({"name": "unet"}, r"key 'models'.*both named 'unet'"),
    ],
)  # fmt: skip
def test_bad_model_entries_are_refused_before_any_job(tmp_path: Path, change: dict, message: str) -> None:
    config = example_config(EXAMPLE)
    config["models"] = ["unet", {**config["models"][1], **change}]
    code, out = wf.run(tmp_path, config, "-n", timeout=120)
    assert code != 0 and not (tmp_path / "results").exists()
    assert re.search(message, out), out[-3000:]
