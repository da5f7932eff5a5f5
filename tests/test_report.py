"""`segsweep report`: escaping, self-containment, missing-run warning, benchmarks, provenance."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pandas as pd
import pytest

from fake_runs import EVALUATE_SECONDS, make_fake_sweep
from segsweep import layout
from segsweep.cli import main
from segsweep.reporting.report import read_benchmark
from segsweep.statistics.bootstrap import FEW_SEEDS
from segsweep.statistics.decision import IQM_NAME

HOSTILE_MODEL = '<img src=x onerror="alert(1)">'
HOSTILE_AUG = 'it\'s "quoted" & <b>bold'  # no slash: names become folder names
SCRIPT = "<script>alert(1)</script>"


class Tags(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    """A report of hostile names, with one run missing (aggregated with --allow-missing)."""
    root = tmp_path_factory.mktemp("report")
    sweep = make_fake_sweep(
        root,
        dataset="ds&<i>",
        models=("unet", HOSTILE_MODEL),
        augmentations=("none", HOSTILE_AUG),
        seeds=(0, 1),
        error_px={"unet": 7.0, HOSTILE_MODEL: 2.0},
        n_images=8,
    )
    (sweep.run_dir("unet", HOSTILE_AUG, 1) / layout.HISTORY_FILE).unlink()
    sweep.benchmark("unet", "none", 1).unlink()
    assert main([*sweep.aggregate_args(grid_images=1), "--allow-missing"]) == 0
    config = {**sweep.config(), "note": SCRIPT}
    out = root / "out" / "report.html"
    assert main(sweep.report_args(out, json.dumps(config))) == 0
    html = out.read_text(encoding="utf-8")
    parser = Tags()
    parser.feed(html)
    verdict = json.loads((sweep.out_dir / layout.VERDICT_FILE).read_text())
    return {"html": html, "tags": parser.tags, "sweep": sweep, "verdict": verdict}


def test_names_and_config_strings_are_escaped(report):
    html = report["html"]
    for raw in (HOSTILE_MODEL, SCRIPT, "<b>bold", "<i>"):
        assert raw not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "it&#39;s &#34;quoted&#34; &amp; &lt;b&gt;bold" in html
    assert "ds&amp;&lt;i&gt;" in html
    assert [tag for tag, _ in report["tags"] if tag in ("script", "b", "i", "iframe", "object")] == []


def test_report_is_self_contained(report):
    html, tags = report["html"], report["tags"]
    images = [attrs for tag, attrs in tags if tag == "img"]
    assert len(images) == 5 + 2 * 3  # five plots; three grids for each of two augmentations
    assert all(attrs["src"].startswith("data:image/png;base64,") for attrs in images)
    assert not [t for t, a in tags if t in ("link", "script") or (t != "img" and "src" in a)]
    assert not [a["href"] for t, a in tags if t == "a" and not a["href"].startswith("#")]
    assert 'src="http' not in html and "url(" not in html
    csp = next(a["content"] for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp and "img-src data:" in csp


def test_missing_runs_are_shown_in_a_warning(report):
    html = report["html"]
    warning = html.split('<section class="warning" role="alert">')[1].split("</section>")[0]
    assert "1 of 8 expected runs are missing" in warning
    assert "unet / it&#39;s &#34;quoted&#34; &amp; &lt;b&gt;bold / split 0 / seed 1" in warning
    assert "history.csv" in warning


def test_runs_show_precision_benchmarks_and_provenance(report):
    html = report["html"]
    runs = html.split('<section id="runs">')[1].split("</section>")[0]
    assert runs.count("<code>float32</code>") == 7  # one per complete run
    assert runs.count('<td class="num">900</td>') == 2  # unet's peak MB where its benchmark exists
    provenance = html.split('<section id="provenance">')[1].split("</section>")[0]
    assert "fakehost: CPU Fake CPU @ 2.0GHz, oneDNN ISA avx2" in provenance
    assert "tensorflow 2.21.0" in provenance and "pandas " in provenance
    assert "git commit" in provenance and "logical cores" in provenance


def test_headline_states_decision_interval_probability_margin(report):
    html, verdict = report["html"], report["verdict"]
    section = html.split('<section id="verdict"')[1].split("</section>")[0]
    assert f"status-{verdict['decision']}" in section
    assert "95% CI" in section and "P(improvement)" in section and "&plusmn;1.0 IoU points" in section
    assert f"{100 * verdict['mean_diff']:+.1f}" in section
    low, high = verdict["prob_improvement_low"], verdict["prob_improvement_high"]
    assert f"{low:.2f} to {high:.2f}" in section
    assert verdict["n_seeds"] == 1  # seed 1 lacks a run: one seed has every run
    assert "(no interval: one seed)" in section and "seed variance is unknown with one seed" in section
    assert "<dt>Caution</dt><dd>With 1 seed the interval of P(improvement) is too narrow" in section
    statistics = html.split('<section id="statistics">')[1].split("</section>")[0]
    for term in ("Primary metric", "95% CI", IQM_NAME, "P(improvement)", "Decision", "Seeds needed"):
        assert f"<strong>{term}</strong>" in statistics
    # The headline's IQM is of the per-seed differences, named so wherever it is shown, not the models' own
    assert f"{IQM_NAME} {100 * verdict['iqm_diff']:+.1f}" in verdict["sentence"]
    assert verdict["iqm_diff_label"] == IQM_NAME and f"<th>{IQM_NAME} (95% CI)</th>" in statistics
    models = html.split('<section id="models">')[1].split("</section>")[0]
    assert "MaxF" in models and "Boundary IoU" in models and "training GFLOPs" in models and "L4 (" in models


def test_inconclusive_headline_states_the_cost_and_the_plan(tmp_path):
    # 8 test images and a 0.1-point margin: the images alone leave a wider interval than any seeds can fix
    sweep = make_fake_sweep(
        tmp_path, augmentations=("none",), error_px={"unet": 4.0, "unetpp": 3.8}, deep_supervision=False, n_images=8
    )
    assert main([*sweep.aggregate_args(grid_images=1), "--min-effect", "0.001"]) == 0
    verdict = json.loads((sweep.out_dir / layout.VERDICT_FILE).read_text())
    assert verdict["decision"] == "inconclusive"
    assert verdict["plan"]["seeds_to_settle"] is None and verdict["plan"]["images_to_settle"] > 8
    runs = pd.read_csv(sweep.out_dir / layout.AGGREGATE_TABLES["runs"])
    expected_hours = (runs["train_seconds"].sum() + len(runs) * EVALUATE_SECONDS) / 3600  # 1 CPU thread each
    assert verdict["cost"]["device_hours"] == pytest.approx(expected_hours)
    out = tmp_path / "report.html"
    assert main(sweep.report_args(out)) == 0
    section = out.read_text(encoding="utf-8").split('<section id="verdict"')[1].split("</section>")[0]
    assert f"this decision cost {expected_hours:.2f} CPU-hours over {len(runs)} runs" in section
    assert f"about {verdict['plan']['images_to_settle']} test images would" in section
    # 3 seeds: the Student-t interval (2 degrees of freedom) around the mean, wider than the bootstrap's
    # (the IQM of 3 seeds trims nothing: its bootstrap interval is the mean's), with the caution.
    assert verdict["n_seeds"] == 3 and verdict["df"] == 2 and verdict["iqm_diff"] == pytest.approx(verdict["mean_diff"])
    assert verdict["mean_diff_high"] - verdict["mean_diff"] == pytest.approx(
        verdict["mean_diff"] - verdict["mean_diff_low"]
    )
    assert verdict["mean_diff_low"] < verdict["iqm_diff_low"] < verdict["iqm_diff_high"] < verdict["mean_diff_high"]
    assert "Student's t on the seeds, 2 degrees of freedom" in section
    assert "<dt>Caution</dt><dd>With 3 seeds the interval of P(improvement) is too narrow" in section


def test_no_caution_on_the_interval_with_enough_seeds(tmp_path):
    sweep = make_fake_sweep(tmp_path, augmentations=("none",), seeds=tuple(range(FEW_SEEDS)), n_images=4)
    assert main(sweep.aggregate_args(grid_images=1)) == 0
    out = tmp_path / "report.html"
    assert main(sweep.report_args(out)) == 0
    section = out.read_text(encoding="utf-8").split('<section id="verdict"')[1].split("</section>")[0]
    assert f"{FEW_SEEDS} seeds" in section and "Caution" not in section


def test_read_benchmark(tmp_path):
    path = tmp_path / "bench.tsv"
    path.write_text(
        "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
        "12.5\t0:00:12\t800.5\t1\t1\t1\t0\t0\t90\t11\n"
        "7.5\t0:00:07\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\n"
    )
    assert read_benchmark(path) == {"seconds": 20.0, "max_rss_mb": 800.5}
    assert read_benchmark(tmp_path / "absent.tsv") == {}
    path.write_text("a\tb\n1\t2\n")
    with pytest.raises(Exception, match="bench.tsv"):
        read_benchmark(path)


def test_bad_config_json_is_a_user_error(report, tmp_path, capsys):
    sweep = report["sweep"]
    assert main([*sweep.report_args(tmp_path / "r.html", "{oops"), "--dataset", sweep.dataset]) == 2
    assert "--config-json is not valid JSON" in capsys.readouterr().err


def test_models_table_says_modes_are_chosen_on_validation_even_when_the_baseline_has_one(report):
    """U-Net, listed first, has one mode ('single'); the sentence is about the models that choose."""
    assert "the inference\n    mode each run chose on val (times chosen)" in report["html"]
