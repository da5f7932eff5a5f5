"""Tables, statistics, plots and mask grids over every run of the sweep.

Reads each expected run, the full cross product of --models x --augmentations x --seeds, from
RESULTS/runs/DATASET/MODEL/AUG/seedSEED/ (run.json, history.csv) and RESULTS/eval/... (metrics.json,
per_image.csv, masks/), plus the split manifest RESULTS/splits/DATASET.csv for the grids' images.
A missing run stops the command with a list of what is missing, so that a mean is never silently
taken over fewer seeds; --allow-missing goes on and records them in verdict.json["missing_runs"].

Writes to --out-dir: runs.csv (one row per run), summary.csv (per model x augmentation x metric
over seeds: n, mean, std, 95% t-interval), comparison.csv (candidate vs baseline), per_image.csv,
pruning.csv (U-Net++ inference modes), verdict.json (the headline and its numbers), plots/*.png
and grids/*.png.

How candidate and baseline are compared, per augmentation and over all augmentations ("all"):
- over seeds: pooled test IoU of the two models trained with the same seed and augmentation;
- over test images: each image's IoU averaged over the seeds where both models have a run (and,
  for "all", then over augmentations), paired by image. Averaging keeps one pair per image, so
  that seeds x images do not pass for independent samples.
Each gets the mean difference, its 95% t-interval, a two-sided Wilcoxon signed-rank p and the
probability of improvement (share of pairs the candidate wins, ties half); see
segsweep.reporting.stats. Grids show, per augmentation, the first seed of --seeds for which both
models have a run: the K test images with the highest and lowest IoU (mean of the two models) and
the K where the two models differ most.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from itertools import product
from pathlib import Path

import pandas as pd

from segsweep.errors import UserError
from segsweep.reporting import stats

SUMMARY_METRICS = ("pooled_iou", "per_image_mean_iou", "precision", "recall", "f1")
PER_IMAGE_COLUMNS = ("stem", "iou", "precision", "recall", "f1", "tp", "fp", "fn")
HISTORY_COLUMNS = ("epoch", "val_road_iou")
MODE_KEYS = ("mode", "parameters", "pooled_iou", "per_image_mean_iou", "images_per_second")
COMPARISON_COLUMNS = ["augmentation", "level", "metric", *stats.Paired.__dataclass_fields__, "evidence"]
ALL = "all"  # the comparison over every augmentation; so no preset may be named "all"
RUN_KEYS = ("dataset", "model", "augmentation", "seed")


@dataclass(frozen=True)
class Run:
    """One (model, augmentation, seed) of the sweep and where its files are."""

    model: str
    augmentation: str
    seed: int
    results: Path
    dataset: str
    split: int = 0

    @property
    def keys(self) -> dict:
        """The run's RUN_KEYS, which start every row it contributes to a table."""
        return {"dataset": self.dataset, "model": self.model, "augmentation": self.augmentation, "seed": self.seed}

    def files(self) -> dict[str, Path]:
        tail = Path(self.model, self.augmentation, f"split{self.split}", f"seed{self.seed}")
        run_dir, eval_dir = self.results / "runs" / tail, self.results / "eval" / tail
        return {
            "run.json": run_dir / "run.json",
            "history.csv": run_dir / "history.csv",
            "metrics.json": eval_dir / "metrics.json",
            "per_image.csv": eval_dir / "per_image.csv",
            "masks": eval_dir / "masks",
        }

    def missing(self) -> list[str]:
        return [str(path) for path in self.files().values() if not path.exists()]

    def __str__(self) -> str:
        return f"{self.model}/{self.augmentation}/seed{self.seed}"


def add_arguments(parser) -> None:
    parser.add_argument("--results", type=Path, required=True, help="experiment folder (runs/, eval/, splits/ inside)")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--augmentations", nargs="+", required=True)
    parser.add_argument("--seeds", nargs="+", type=int, required=True)
    parser.add_argument("--splits", nargs="+", type=int, default=[0], help="split indices (default 0)")
    parser.add_argument("--baseline", required=True, help="model the comparison is against (e.g. unet)")
    parser.add_argument("--candidate", required=True, help="model compared with the baseline (e.g. unetpp)")
    parser.add_argument("--grid-images", type=int, default=2, help="images per grid category (default 2)")
    parser.add_argument("--format", default="kitti_semantics", help="dataset format, to read grid images")
    parser.add_argument(
        "--positive-ids", nargs="*", type=int, default=None,
        help="label IDs that mean road; none given: the format's own (7 for KITTI)",
    )
    parser.add_argument("--allow-missing", action="store_true", help="go on without missing runs, listing them")
    parser.add_argument("--out-dir", type=Path, required=True)


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: cannot read JSON: {error}") from None


def read_csv(path: Path, columns: tuple[str, ...], dtype: dict | None = None) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype=dtype)
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: cannot read CSV: {error}") from None
    absent = [c for c in columns if c not in table.columns]
    if absent:
        raise UserError(f"{path}: missing columns {', '.join(absent)} (has {', '.join(map(str, table.columns))})")
    return table


def _field(data: dict, path: Path, dotted: str):
    """data['a']['b'] for 'a.b', or a UserError naming the file and the key."""
    value = data
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise UserError(f"{path}: missing key {dotted!r}")
        value = value[part]
    return value


def _run_row(run: Run, info: dict, metrics: dict) -> dict:
    """The tidy row of runs.csv: run keys, headline metrics, training facts and provenance."""
    files = run.files()
    rj, mj = files["run.json"], files["metrics.json"]
    for path, data in ((rj, info), (mj, metrics)):
        for key in ("model", "augmentation", "seed"):
            if _field(data, path, key) != run.keys[key]:
                raise UserError(f"{path}: {key} is {data[key]!r} but the file is in the folder of run {run}")
    versions = info.get("versions") or {}
    return {
        **run.keys,
        "architecture": info.get("architecture"),
        "deep_supervision": info.get("deep_supervision"),
        "pooled_iou": _field(metrics, mj, "pooled.iou"),
        "per_image_mean_iou": _field(metrics, mj, "per_image_mean.iou"),
        "precision": _field(metrics, mj, "pooled.precision"),
        "recall": _field(metrics, mj, "pooled.recall"),
        "f1": _field(metrics, mj, "pooled.f1"),
        "n_test_images": metrics.get("n_images"),
        "mode": metrics.get("mode"),
        "best_epoch": _field(info, rj, "best_epoch"),
        "epochs_run": _field(info, rj, "epochs_run"),
        "best_val_road_iou": info.get("best_val_road_iou"),
        "train_seconds": _field(info, rj, "train_seconds"),
        "parameters": _field(info, rj, "parameters"),
        "images_per_second": _field(metrics, mj, "speed.images_per_second"),
        "precision_policy": _field(info, rj, "precision"),
        "device_type": (info.get("device") or {}).get("type"),
        "device_name": (info.get("device") or {}).get("name"),
        "host": info.get("host"),
        "resumed": info.get("resumed"),
        "attempts": info.get("attempts"),
        "slurm_job_id": info.get("slurm_job_id"),
        "finished_at": info.get("finished_at"),
        **{f"version_{name}": version for name, version in versions.items()},
    }


@dataclass
class Tables:
    """Everything read from the runs, in tidy form: each row starts with its run's keys."""

    runs: pd.DataFrame
    histories: pd.DataFrame
    per_image: pd.DataFrame
    modes: pd.DataFrame


def _with_keys(frame: pd.DataFrame, run: Run) -> pd.DataFrame:
    return pd.concat([pd.DataFrame(run.keys, index=frame.index), frame], axis=1)


def load_runs(runs: list[Run]) -> Tables:
    """Read every run's files; bad content raises UserError naming the file."""
    rows, histories, per_image, modes = [], [], [], []
    for run in runs:
        files = run.files()
        info, metrics = read_json(files["run.json"]), read_json(files["metrics.json"])
        rows.append(_run_row(run, info, metrics))
        histories.append(_with_keys(read_csv(files["history.csv"], HISTORY_COLUMNS), run))
        # Stems stay text: 000123 must not become the number 123.
        per_image.append(_with_keys(read_csv(files["per_image.csv"], PER_IMAGE_COLUMNS, {"stem": str}), run))
        for mode in metrics.get("modes") or []:
            modes.append({**run.keys, **{key: _field(mode, files["metrics.json"], key) for key in MODE_KEYS}})
    return Tables(
        runs=pd.DataFrame(rows),
        histories=pd.concat(histories, ignore_index=True),
        per_image=pd.concat(per_image, ignore_index=True),
        modes=pd.DataFrame(modes, columns=[*RUN_KEYS, *MODE_KEYS]),
    )


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Per model x augmentation x metric: n, mean, std and 95% CI over seeds."""
    rows = [
        {"model": model, "augmentation": aug, "metric": metric, **asdict(stats.mean_ci(group[metric]))}
        for (model, aug), group in runs.groupby(["model", "augmentation"], sort=False)
        for metric in SUMMARY_METRICS
    ]
    return pd.DataFrame(rows)


def seed_pairs(runs: pd.DataFrame, baseline: str, candidate: str) -> pd.DataFrame:
    """Pooled IoU of both models per (augmentation, seed) where both have a run."""
    wide = runs.pivot_table(index=["augmentation", "seed"], columns="model", values="pooled_iou")
    return wide.reindex(columns=[baseline, candidate]).dropna()


def image_pairs(per_image: pd.DataFrame, pairs: pd.DataFrame, baseline: str, candidate: str) -> pd.DataFrame:
    """Per (augmentation, test image): each model's IoU averaged over the seeds in `pairs`."""
    keys = pd.MultiIndex.from_frame(per_image[["augmentation", "seed"]])
    kept = per_image[keys.isin(pairs.index)]
    wide = kept.pivot_table(index=["augmentation", "stem"], columns="model", values="iou", aggfunc="mean")
    return wide.reindex(columns=[baseline, candidate]).dropna()


def compare(
    seeds: pd.DataFrame, images: pd.DataFrame, augmentations: list[str], baseline: str, candidate: str
) -> tuple[pd.DataFrame, list[dict]]:
    """comparison.csv rows and, per scope (each augmentation, then "all"), the verdict.

    `seeds` and `images` are the paired tables of `seed_pairs` and `image_pairs`.
    """
    present = [aug for aug in augmentations if aug in seeds.index.get_level_values("augmentation")]
    scopes = []
    for aug in present:
        n_seeds = len(seeds.xs(aug, level="augmentation"))
        scopes.append((aug, seeds.xs(aug, level="augmentation"), images.xs(aug, level="augmentation"),
                       f"{n_seeds} seed{'s' * (n_seeds != 1)}"))
    if len(present) > 1:
        n_seeds = seeds.index.get_level_values("seed").nunique()
        scopes.append((ALL, seeds, images.groupby(level="stem").mean(),
                       f"up to {n_seeds} seeds per augmentation, then over {len(present)} augmentations"))
    rows, verdicts = [], []
    for scope, seed_table, image_table, averaged_over in scopes:
        by_seed = stats.paired(seed_table[baseline], seed_table[candidate])
        by_image = stats.paired(image_table[baseline], image_table[candidate])
        status, sentence = stats.verdict(candidate, baseline, by_image, by_seed, averaged_over)
        rows += [
            {"augmentation": scope, "level": "seeds", "metric": "pooled_iou", **by_seed.as_row()},
            {"augmentation": scope, "level": "images", "metric": "per_image_iou", **by_image.as_row()},
        ]
        verdicts.append({"augmentation": scope, "status": status, "sentence": sentence})
    for aug in augmentations:
        if aug not in present:
            verdicts.append({"augmentation": aug, "status": "no_pairs",
                             "sentence": f"{aug}: no seed has runs of both {candidate} and {baseline}."})
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS), verdicts


def pruning(modes: pd.DataFrame) -> pd.DataFrame:
    """Per model x augmentation x inference mode: means over seeds (and spreads for error bars)."""
    return (
        modes.groupby(["model", "augmentation", "mode"], sort=False)
        .agg(
            n=("seed", "size"),
            parameters=("parameters", "median"),
            pooled_iou=("pooled_iou", "mean"),
            pooled_iou_std=("pooled_iou", "std"),
            per_image_mean_iou=("per_image_mean_iou", "mean"),
            images_per_second=("images_per_second", "mean"),
            images_per_second_std=("images_per_second", "std"),
        )
        .reset_index()
    )


def _json_safe(value):
    """NaN -> null, recursively, so that verdict.json is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def expected_runs(args) -> list[Run]:
    for role in ("baseline", "candidate"):
        if getattr(args, role) not in args.models:
            raise UserError(f"--{role} {getattr(args, role)!r} is not one of --models ({', '.join(args.models)})")
    if args.baseline == args.candidate:
        raise UserError(f"--baseline and --candidate are both {args.baseline!r}: nothing to compare")
    if ALL in args.augmentations:
        raise UserError(f"--augmentations: {ALL!r} names the comparison over all augmentations; rename that preset")
    if args.splits != [0]:
        raise UserError("--splits: only split 0 is aggregated by this version")
    return [Run(m, a, s, args.results, args.dataset) for m, a, s in product(args.models, args.augmentations, args.seeds)]


def split_complete(expected: list[Run], allow_missing: bool) -> tuple[list[Run], list[dict]]:
    """(runs with every file, records of the others); an error listing the others unless allowed."""
    missing_files = {run: run.missing() for run in expected}
    missing = [{**run.keys, "missing": files} for run, files in missing_files.items() if files]
    lines = "\n".join(f"  {m['model']}/{m['augmentation']}/seed{m['seed']}: {', '.join(m['missing'])}" for m in missing)
    if len(missing) == len(expected):
        raise UserError(f"none of the {len(expected)} expected runs is complete:\n{lines}")
    if missing and not allow_missing:
        raise UserError(
            f"{len(missing)} of {len(expected)} expected runs are missing files (means over fewer seeds would "
            f"mislead; give --allow-missing to aggregate without them):\n{lines}"
        )
    return [run for run, files in missing_files.items() if not files], missing


def run(args) -> int:
    expected = expected_runs(args)
    found, missing = split_complete(expected, args.allow_missing)
    tables = load_runs(found)
    out = args.out_dir
    (out / "plots").mkdir(parents=True, exist_ok=True)
    (out / "grids").mkdir(parents=True, exist_ok=True)
    seeds = seed_pairs(tables.runs, args.baseline, args.candidate)
    images = image_pairs(tables.per_image, seeds, args.baseline, args.candidate)
    comparison, verdicts = compare(seeds, images, args.augmentations, args.baseline, args.candidate)
    tables.runs.to_csv(out / "runs.csv", index=False)
    summarize(tables.runs).to_csv(out / "summary.csv", index=False)
    comparison.to_csv(out / "comparison.csv", index=False)
    tables.per_image.to_csv(out / "per_image.csv", index=False)
    pruning_table = pruning(tables.modes)
    pruning_table.to_csv(out / "pruning.csv", index=False)

    from segsweep.reporting import grids, plots

    plots.write_all(tables, images, pruning_table, args.baseline, args.candidate, out / "plots")
    grid_files = grids.write_grids(
        tables.per_image, seeds, results=args.results, dataset=args.dataset, fmt=args.format,
        positive_ids=args.positive_ids, seeds=args.seeds, augmentations=args.augmentations,
        baseline=args.baseline, candidate=args.candidate, k=args.grid_images, out_dir=out / "grids",
    )
    headline = next((v for v in verdicts if v["augmentation"] == ALL), verdicts[0])
    verdict = {
        "dataset": args.dataset,
        "baseline": args.baseline,
        "candidate": args.candidate,
        "status": headline["status"],
        "sentence": headline["sentence"],
        "scope": headline["augmentation"],
        "by_augmentation": verdicts,
        "runs_expected": len(expected),
        "runs_found": len(found),
        "missing_runs": missing,
        "grids": grid_files,
    }
    (out / "verdict.json").write_text(json.dumps(_json_safe(verdict), indent=2) + "\n")
    print(headline["sentence"])
    return 0
