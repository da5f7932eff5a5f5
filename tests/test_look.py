"""One look of a sequential sweep: its schedule, bound, interval, decision and stopping rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from segsweep.config.sequential import Schedule
from segsweep.reporting.look import decide_look, look_bound, sentence, stop_reason
from segsweep.statistics.bootstrap import Split
from segsweep.statistics.sequential import boundaries

SCHEDULE = Schedule(looks=3, seeds_per_look=2, max_seeds=6, alpha=0.05, spending="obrien_fleming")


def _per_image_split(d: np.ndarray) -> Split:
    """A split whose per-image differences (candidate - baseline) are the (R, I) matrix d."""
    iou = np.stack([np.zeros_like(d), d])[:, None]  # (2 models, 1 augmentation, R, I)
    return Split(counts=np.zeros((*iou.shape, 3)), iou=iou, stems=tuple(f"{i:03d}" for i in range(d.shape[1])))


def test_schedule_takes_seeds_in_batches_up_to_the_cap():
    assert [SCHEDULE.seeds_at(k) for k in (1, 2, 3)] == [2, 4, 6]
    capped = Schedule(looks=4, seeds_per_look=2, max_seeds=5, alpha=0.05, spending="pocock")
    assert capped.last_look == 3 and capped.seeds_at(3) == 5  # the last look is cut to max_seeds
    # seed-count fractions 2/6, 4/6, 6/6: the Lan-DeMets bounds of three equal looks (gsDesign sfLDOF)
    assert [look_bound(SCHEDULE, k) for k in (1, 2, 3)] == pytest.approx([3.7103, 2.5114, 1.9930], abs=1e-3)
    assert look_bound(capped, 3) == pytest.approx(boundaries([0.4, 0.8, 1.0], 0.05, "pocock")[2])


def test_a_look_interval_by_hand():
    # 2 seeds x 2 images of per-image differences; per_image_iou contributes them as they are.
    # Seed means 0.03, 0.05; image means 0.035, 0.045; grand 0.04; MS_seed = 2 (0.01^2 + 0.01^2) = 4e-4,
    # MS_image = 2 (0.005^2 * 2) = 1e-4, residuals 0: MS_res = 0. Components: seed (4e-4 - 0) / 2 = 2e-4,
    # image 1e-4 / 2 = 5e-5, residual 0; variance of the mean = 2e-4 / 2 + 5e-5 / 2 = 1.25e-4.
    d = np.array([[0.025, 0.035], [0.045, 0.055]])
    record = decide_look([_per_image_split(d)], "per_image_iou", 0.01, SCHEDULE, look=1)
    assert record["estimate"] == pytest.approx(0.04)
    assert record["standard_error"] == pytest.approx(math.sqrt(1.25e-4))
    from scipy import stats

    q = stats.t.isf(record["nominal_level"] / 2, df=1)  # 2 seeds: 1 degree of freedom
    assert record["low"] == pytest.approx(0.04 - q * math.sqrt(1.25e-4))
    assert record["decision"] == "inconclusive"  # a 99.98% interval from 2 seeds holds 0


def test_one_seed_is_inconclusive_not_an_error():
    one = Schedule(looks=3, seeds_per_look=1, max_seeds=3, alpha=0.05, spending="obrien_fleming")
    record = decide_look([_per_image_split(np.array([[0.2, 0.3]]))], "per_image_iou", 0.01, one, look=1)
    assert record["decision"] == "inconclusive" and math.isnan(record["standard_error"])


def test_stop_reasons():
    cost = {
        "device_hours": 2.0,
        "total_device_hours": 2.0,
        "unit": "gpu_hours",
        "runs": 8,
        "known_runs": 8,
        "sources": ["sacct"],
    }
    decided = {"look": 1, "decision": "candidate_better"}
    assert stop_reason(decided, SCHEDULE, cost) == "decided"
    going = {"look": 1, "decision": "inconclusive"}
    assert stop_reason(going, SCHEDULE, cost) is None
    assert stop_reason({"look": 3, "decision": "inconclusive"}, SCHEDULE, cost) == "max_seeds"
    capped = Schedule(3, 2, 6, 0.05, "obrien_fleming", max_device_hours=3.5)
    assert stop_reason(going, capped, cost) == "max_device_hours"  # 2 spent + 2 for the next look > 3.5
    assert stop_reason(going, Schedule(3, 2, 6, 0.05, "obrien_fleming", max_device_hours=4.0), cost) is None
    unknown = {**cost, "device_hours": math.nan, "total_device_hours": math.nan, "known_runs": 7}
    assert stop_reason(going, capped, unknown) == "budget_unknown"
    # Tuning is paid once, before look 1: it counts against the cap, but not in each further look's cost.
    tuned = {**cost, "tuning_device_hours": 1.0, "total_device_hours": 3.0}
    assert (
        stop_reason(going, Schedule(3, 2, 6, 0.05, "obrien_fleming", max_device_hours=4.5), tuned) == "max_device_hours"
    )
    assert stop_reason(going, Schedule(3, 2, 6, 0.05, "obrien_fleming", max_device_hours=5.0), tuned) is None
    assert stop_reason(going, capped, {**tuned, "total_device_hours": math.nan}) == "budget_unknown"


def test_sentence_names_the_look_the_interval_and_the_cost():
    record = {
        "look": 2,
        "last_look": 3,
        "n_seeds": 4,
        "spending": "obrien_fleming",
        "alpha": 0.05,
        "estimate": 0.021,
        "low": 0.004,
        "high": 0.038,
        "nominal_level": 0.012,
        "min_effect": 0.01,
        "decision": "candidate_better",
        "stop": "decided",
        "cost": {"device_hours": 1.5, "unit": "gpu_hours", "runs": 12, "known_runs": 12, "sources": ["sacct"]},
    }
    text = sentence(record, "unet", "unetpp")
    assert text.startswith("Sequential verdict, look 2 of at most 3 (4 seeds")
    assert "+2.1 IoU points, 98.80% repeated CI +0.4 to +3.8: unetpp is better" in text
    assert "This decision cost 1.50 GPU-hours over 12 runs (from SLURM accounting)." in text
