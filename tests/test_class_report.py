"""Multi-class sweeps in aggregate and report (issue #35): the per-class IoU table, each model's
confusion heatmap, mask grids in class colours with a legend; and none of it for binary road."""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fake_runs import FORMAT, FakeSweep, make_fake_sweep
from segsweep import layout
from segsweep.cli import main
from segsweep.data.classes import class_rows
from segsweep.errors import UserError
from segsweep.reporting import aggregate
from segsweep.reporting.classes import (
    IOU,
    MIOU,
    add_classes_argument,
    class_fields,
    classes_from_args,
    model_confusions,
    row_rates,
    run_classes,
)
from segsweep.reporting.grids import read_mask
from segsweep.reporting.runs import load_runs

SIDEWALK = "side<i>walk</i> & co"  # escaped in the page
NA = "NA"  # a name pandas reads as missing by default
CLASSES = (
    {"name": "road", "ids": [7], "colour": [128, 64, 128]},
    {"name": SIDEWALK, "ids": [8], "colour": [244, 35, 232]},
    {"name": NA, "ids": [23], "colour": [70, 130, 180]},
)
# Hand-made test confusion matrices (rows truth, columns predicted) of each model's three seeds.
CONFUSIONS = {
    ("unet", 0): [[6, 2, 0], [2, 6, 0], [0, 0, 4]],
    ("unet", 1): [[8, 0, 0], [0, 2, 2], [0, 0, 4]],
    ("unet", 2): [[4, 4, 0], [0, 4, 0], [0, 0, 0]],  # no NA pixel in truth nor prediction: no IoU
    ("unetpp", 0): [[9, 1, 0], [0, 5, 0], [0, 0, 5]],
    ("unetpp", 1): [[10, 0, 0], [0, 4, 1], [0, 0, 5]],
    ("unetpp", 2): [[7, 3, 0], [0, 6, 0], [0, 0, 0]],
}
# Their IoUs by hand, tp / (row + column - tp), seed by seed (seed 2 has none for NA).
HAND_IOU = {
    ("unet", "road"): [6 / 10, 8 / 8, 4 / 8],
    ("unet", SIDEWALK): [6 / 10, 2 / 4, 4 / 8],
    ("unet", NA): [4 / 4, 4 / 6],
    ("unetpp", "road"): [9 / 10, 10 / 10, 7 / 10],
    ("unetpp", SIDEWALK): [5 / 6, 4 / 5, 6 / 9],
    ("unetpp", NA): [5 / 5, 5 / 6],
}
# Each seed's mIoU: the mean over the classes with an IoU.
HAND_MIOU = {
    "unet": [(6 / 10 + 6 / 10 + 4 / 4) / 3, (8 / 8 + 2 / 4 + 4 / 6) / 3, (4 / 8 + 4 / 8) / 2],
    "unetpp": [(9 / 10 + 5 / 6 + 5 / 5) / 3, (10 / 10 + 4 / 5 + 5 / 6) / 3, (7 / 10 + 6 / 9) / 2],
}


def aggregate_args(sweep: FakeSweep, grid_images: int = 1, *flags: str) -> argparse.Namespace:
    """`segsweep aggregate`'s arguments for the fake sweep, and `flags`."""
    parser = argparse.ArgumentParser()
    aggregate.add_arguments(parser)
    return parser.parse_args([*sweep.aggregate_args(grid_images)[1:], *flags])


def aggregate_classes(sweep: FakeSweep, grid_images: int = 1, *flags: str) -> dict:
    """`segsweep aggregate --classes-json` of a multi-class sweep, as the aggregate rule runs it."""
    classes = json.dumps(class_rows(sweep.class_specs()))
    args = aggregate_args(sweep, grid_images, "--classes-json", classes, *flags)
    aggregate.run(args)
    return json.loads((sweep.out_dir / layout.VERDICT_FILE).read_text())


def report_of(sweep: FakeSweep, out: Path) -> str:
    assert main(sweep.report_args(out)) == 0
    return out.read_text(encoding="utf-8")


def section(html: str, name: str) -> str:
    return html.split(f'<section id="{name}"')[1].split("</section>")[0]


@pytest.fixture(scope="module")
def multi(tmp_path_factory) -> dict:
    """A three-class sweep of hand-made confusion matrices, aggregated and reported."""
    root = tmp_path_factory.mktemp("classes")
    sweep = make_fake_sweep(
        root, augmentations=("none",), n_images=8, classes=CLASSES, confusions=CONFUSIONS, deep_supervision=False
    )
    verdict = aggregate_classes(sweep)
    return {"sweep": sweep, "verdict": verdict, "html": report_of(sweep, root / "report.html")}


@pytest.fixture(scope="module")
def binary(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("binary")
    sweep = make_fake_sweep(root, augmentations=("none",), seeds=(0, 1), n_images=8, deep_supervision=False)
    assert main(sweep.aggregate_args(grid_images=1)) == 0
    return {"sweep": sweep, "html": report_of(sweep, root / "report.html")}


def test_class_table_is_mean_and_sd_over_runs_of_hand_made_matrices(multi):
    out = multi["sweep"].out_dir
    table = pd.read_csv(out / layout.CLASS_IOU_FILE, keep_default_na=False, na_values=[""])
    assert list(table.columns) == ["model", "metric", "class", "mean", "sd", "n"]
    ious = table[table["metric"] == IOU].set_index(["model", "class"])
    assert set(ious.index) == set(HAND_IOU)
    for key, values in HAND_IOU.items():
        assert ious.loc[key, "mean"] == pytest.approx(statistics.mean(values))
        assert ious.loc[key, "sd"] == pytest.approx(statistics.stdev(values))
        assert ious.loc[key, "n"] == len(values)
    assert ious.loc[("unet", "road"), "mean"] == pytest.approx(0.7)  # (0.6 + 1 + 0.5) / 3
    assert ious.loc[("unet", "road"), "sd"] == pytest.approx(math.sqrt(0.07))  # (0.01 + 0.09 + 0.04) / 2
    miou = table[table["metric"] == MIOU].set_index("model")
    for model in ("unet", "unetpp"):
        assert miou.loc[model, "mean"] == pytest.approx(statistics.mean(HAND_MIOU[model]))
        assert miou.loc[model, "sd"] == pytest.approx(statistics.stdev(HAND_MIOU[model]))
        assert miou.loc[model, "n"] == 3


def test_confusion_rows_are_normalised_to_truth_after_summing_runs(multi):
    tables = load_runs(aggregate.sweep_from_args(aggregate_args(multi["sweep"])).expected_runs())
    summed = model_confusions(tables.classes)
    assert summed["unet"].tolist() == [[18, 6, 0], [2, 12, 2], [0, 0, 8]]
    rates = row_rates(summed["unet"])
    assert rates == pytest.approx(np.array([[18 / 24, 6 / 24, 0], [2 / 16, 12 / 16, 2 / 16], [0, 0, 1]]))
    assert rates.sum(axis=1) == pytest.approx(np.ones(3))
    # a class with no pixel in truth has no rates, rather than a row of zeros
    assert np.isnan(row_rates(np.array([[3, 1], [0, 0]]))[1]).all()
    for model in ("unet", "unetpp"):
        assert layout.plot_file(multi["sweep"].out_dir, layout.confusion_plot(model)).is_file()
    assert multi["verdict"]["classes"] == {
        "names": ["road", SIDEWALK, NA],
        "colours": [[128, 64, 128], [244, 35, 232], [70, 130, 180]],
        "focus": "road",
        "confusion_runs": {"unet": 3, "unetpp": 3},
    }


def test_report_shows_class_table_heatmaps_and_legend(multi):
    html = multi["html"]
    assert '<a href="#classes">Classes</a>' in html
    classes = section(html, "classes")
    escaped = "side&lt;i&gt;walk&lt;/i&gt; &amp; co"
    assert SIDEWALK not in html and escaped in classes
    rows = classes.split("<tbody>")[1].split("</tbody>")[0].split("<tr")[1:]
    assert [row.split("</th>")[0].rsplit(">", 1)[1] for row in rows] == ["road", escaped, NA, "mIoU"]
    road = statistics.mean(HAND_IOU["unet", "road"]), statistics.stdev(HAND_IOU["unet", "road"])
    assert f"{road[0]:.3f} ± {road[1]:.3f} <small>n=3</small>" in rows[0]
    assert "<small>n=2</small>" in rows[2]  # NA: seed 2 has no IoU
    assert 'class="miou"' in rows[3]
    heatmaps = re.findall(r'<img src="(data:image/png;base64,[^"]+)" alt="confusion matrix of ([^"]+)">', classes)
    assert [model for _, model in heatmaps] == ["unet", "unetpp"]
    assert "Confusion matrix of unet: the valid test pixels of its 3 runs summed" in classes
    legend = section(html, "grids").split('<p class="lead legend">')[1].split("</p>")[0]
    for colour, name in (("#804080", "road"), ("#f423e8", escaped), ("#4682b4", NA)):
        assert f'<span class="key"><span class="swatch" style="background: {colour}"></span>{name}</span>' in legend
    assert '<span class="swatch void"></span>void' in legend and "true positive" not in legend
    assert "Pooled road IoU on the test split" in section(html, "iou")


def test_verdict_on_miou_names_it(tmp_path):
    sweep = make_fake_sweep(
        tmp_path, augmentations=("none",), seeds=(0, 1), n_images=8, classes=CLASSES, deep_supervision=False
    )
    assert aggregate_classes(sweep, 1, "--metric", "miou")["metric"] == "miou"
    html = report_of(sweep, tmp_path / "report.html")
    assert "<dt>Metric</dt><dd>test mIoU, unetpp minus unet</dd>" in section(html, "verdict")
    headline = section(html, "statistics").split('<tr class="scope">')[1].split("</tr>")[0]
    assert "<td>test mIoU</td>" in headline


def test_verdict_on_one_class_keeps_its_name(tmp_path):
    """iou:road is decided as the focus class's pooled IoU; verdict.json names the class metric beside it,
    which the index panels by."""
    sweep = make_fake_sweep(
        tmp_path, augmentations=("none",), seeds=(0, 1), n_images=8, classes=CLASSES, deep_supervision=False
    )
    verdict = aggregate_classes(sweep, 1, "--metric", "iou:road")
    assert (verdict["metric"], verdict["class_metric"]) == ("pooled_iou", "iou:road")


def test_grids_colour_truth_and_predictions_by_class(multi):
    grids = multi["verdict"]["grids"]
    assert len(grids) == 3  # best, worst, differ of the one augmentation
    with Image.open(multi["sweep"].out_dir / layout.GRIDS_DIR / grids[0]["file"]) as image:
        colours = {tuple(c) for c in np.asarray(image.convert("RGB")).reshape(-1, 3)}
    assert {(128, 64, 128), (244, 35, 232), (70, 130, 180), (0, 0, 0)} <= colours


def test_binary_sweep_has_no_class_outputs(binary, tmp_path):
    html, out = binary["html"], binary["sweep"].out_dir
    verdict = json.loads((out / layout.VERDICT_FILE).read_text())
    assert "classes" not in verdict and not (out / layout.CLASS_IOU_FILE).exists()
    assert not list((out / layout.PLOTS_DIR).glob("confusion_*"))
    assert 'id="classes"' not in html and "#classes" not in html and "confusion matrix" not in html
    assert "swatch void" not in html and '<span class="swatch tp"></span>true positive' in html
    assert "Pooled road IoU on the test split" in html
    assert class_fields([], 4, None, tmp_path) == {} and not list(tmp_path.iterdir())


def test_class_and_run_mismatches_are_user_errors(tmp_path):
    block = {
        "names": ["road", "sky"],
        "colours": [[1, 2, 3], [4, 5, 6]],
        "focus": "road",
        "iou": {"road": 0.5, "sky": None},
        "miou": 0.5,
        "confusion": [[1, 1], [0, 0]],
    }
    keys = {"model": "unet", "augmentation": "none", "split": 0, "seed": 0}
    run = run_classes(keys, block, Path("m.json"))
    assert math.isnan(run.iou[1])
    with pytest.raises(UserError, match=r"m.json: classes.confusion must be a 2 x 2"):
        run_classes(keys, {**block, "confusion": [[1, 1, 1]]}, Path("m.json"))
    with pytest.raises(UserError, match="m.json: classes lacks miou"):
        run_classes(keys, {k: v for k, v in block.items() if k != "miou"}, Path("m.json"))
    specs = FakeSweep(tmp_path, classes=CLASSES).class_specs()
    with pytest.raises(UserError, match="give --classes-json"):
        class_fields([run], 1, None, tmp_path)
    with pytest.raises(UserError, match="the runs are binary road"):
        class_fields([], 1, specs, tmp_path)
    with pytest.raises(UserError, match="1 of 2 runs are multi-class"):
        class_fields([run], 2, None, tmp_path)
    with pytest.raises(
        UserError, match=r"\(and colours\) \[\('road', .* but the runs have \[\('road', \(1, 2, 3\)\), \('sky'"
    ):
        class_fields([run], 1, specs, tmp_path)
    assert not list(tmp_path.iterdir())


def test_classes_json_argument(tmp_path):
    parser = argparse.ArgumentParser()
    parser.add_argument("--void-ids", nargs="*", type=int)
    add_classes_argument(parser)
    assert classes_from_args(parser.parse_args([]), FORMAT) is None
    listed = classes_from_args(parser.parse_args(["--classes-json", json.dumps(CLASSES)]), FORMAT)
    assert [spec.name for spec in listed] == ["road", SIDEWALK, NA] and listed[0].colour == (128, 64, 128)
    assert len(classes_from_args(parser.parse_args(["--classes-json", '"format"']), FORMAT)) == 19
    with pytest.raises(UserError, match="--classes-json is not valid JSON"):
        classes_from_args(parser.parse_args(["--classes-json", "[oops"]), FORMAT)
    mask = tmp_path / "mask.png"
    Image.fromarray(np.full((2, 3), 3, np.uint8)).save(mask)
    with pytest.raises(UserError, match="predicted class index 3 but the sweep has 3 classes"):
        read_mask(mask, (2, 3), listed)
