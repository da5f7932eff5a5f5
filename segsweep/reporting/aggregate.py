"""Tables, statistics, plots and mask grids over every run of one experiment.

Reads each expected run, the full cross product of --models x --augmentations x --splits x
--seeds, from EXP/runs/MODEL/AUG/splitSPLIT/seedSEED/ (run.json, history.csv) and
EXP/eval/MODEL/AUG/splitSPLIT/seedSEED/ (metrics.json, per_image.csv, masks/), plus the split
manifest EXP/splits/splitSPLIT.csv of the first split for the grids' images. A missing run stops
the command with a list of what is missing, so that a mean is never silently taken over fewer
seeds; --allow-missing goes on and records them in verdict.json["missing_runs"].

Writes to --out-dir: runs.csv (one row per run), summary.csv (per model x augmentation x metric
over runs: n, mean, std, 95% t-interval), models.csv (per model: IQM of pooled IoU with its
stratified-bootstrap interval, MaxF, AP, Boundary IoU, val-vs-test gap, parameters, training FLOPs,
the inference mode chosen on val), comparison.csv (the candidate against every other model, per
augmentation and over all of them, on both metrics), per_image.csv, pruning.csv (U-Net++ inference
modes, val and test), verdict.json (the headline and its numbers), plots/*.png and grids/*.png.

The comparison is the crossed seeds x images bootstrap of segsweep.statistics.bootstrap and the
decision rule of segsweep.statistics.decision; the headline is the candidate against --baseline,
over all augmentations, on --metric. Only seeds with runs of both models for every augmentation of
the scope in every split enter a comparison (complete pairs). Grids show, per augmentation, the
first seed of --seeds in the first split for which both models have a run: the K test images with
the highest and lowest IoU (mean of the two models) and the K where the two models differ most.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd

from segsweep import layout
from segsweep.data.folder import add_folder_argument, format_from_args
from segsweep.errors import UserError
from segsweep.statistics import stats
from segsweep.statistics.bootstrap import METRICS, Split
from segsweep.statistics.decision import METRIC_NAMES, ROW_COLUMNS, Comparison, compare, conflicts, sentence

SUMMARY_METRICS = ("pooled_iou", "per_image_mean_iou", "precision", "recall", "f1", "max_f", "average_precision",
                   "boundary_iou", "val_pooled_iou")
PER_IMAGE_COLUMNS = ("stem", "iou", "precision", "recall", "f1", "boundary_iou", "tp", "fp", "fn", "empty_reference")
HISTORY_COLUMNS = ("epoch", "val_road_iou")
MODE_KEYS = ("mode", "parameters", "pooled_iou", "val_pooled_iou", "per_image_mean_iou", "images_per_second")
ALL = "all"  # the comparison over every augmentation; so no preset may be named "all"
RUN_KEYS = ("dataset", "model", "augmentation", "split", "seed")


@dataclass(frozen=True)
class Run:
    """One (model, augmentation, split, seed) of the sweep and where its files are."""

    model: str
    augmentation: str
    split: int
    seed: int
    results: Path
    dataset: str

    @property
    def keys(self) -> dict:
        """The run's RUN_KEYS, which start every row it contributes to a table."""
        return {"dataset": self.dataset, "model": self.model, "augmentation": self.augmentation, "split": self.split,
                "seed": self.seed}

    def files(self) -> dict[str, Path]:
        return layout.run_files(self.results, self.model, self.augmentation, self.split, self.seed)

    def missing(self) -> list[str]:
        return [str(path) for path in self.files().values() if not path.exists()]

    def __str__(self) -> str:
        return f"{self.model}/{self.augmentation}/split{self.split}/seed{self.seed}"


def add_arguments(parser) -> None:
    parser.add_argument("--results", type=Path, required=True,
                        help="the experiment folder EXP (runs/, eval/, splits/ inside)")
    parser.add_argument("--dataset", help="the dataset's label in tables and the report (default: EXP's name)")
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--augmentations", nargs="+", required=True)
    parser.add_argument("--splits", nargs="+", type=int, default=[0], help="split indices (default 0)")
    parser.add_argument("--seeds", nargs="+", type=int, required=True)
    parser.add_argument("--baseline", required=True, help="model of the headline comparison (e.g. unet)")
    parser.add_argument("--candidate", required=True,
                        help="model compared with the baseline and with every other model (e.g. unetpp)")
    parser.add_argument("--metric", choices=METRICS, default="pooled_iou",
                        help="primary metric of the decision (default pooled_iou; the other is the secondary view)")
    parser.add_argument("--min-effect", type=float, default=0.01,
                        help="smallest difference that matters, in IoU units (default 0.01 = 1 IoU point)")
    parser.add_argument("--bootstrap-resamples", type=int, default=10_000, help="bootstrap resamples (default 10000)")
    parser.add_argument("--bootstrap-seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    parser.add_argument("--grid-images", type=int, default=2, help="images per grid category (default 2)")
    parser.add_argument("--format", default="kitti_semantics", help="dataset format, to read grid images")
    add_folder_argument(parser)
    parser.add_argument(
        "--positive-ids", nargs="*", type=int, default=None,
        help="label IDs that mean road; none given: the format's own (7 for KITTI)",
    )
    parser.add_argument(
        "--void-ids", nargs="*", type=int, default=None,
        help="label IDs that are void, grey in the grids; none given: the format's own",
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


def _number(value) -> float:
    """A JSON number; null (NaN written strictly) becomes NaN."""
    return math.nan if value is None else float(value)


def _run_row(run: Run, info: dict, metrics: dict) -> dict:
    """The tidy row of runs.csv: run keys, headline metrics, training facts and provenance."""
    files = run.files()
    rj, mj = files["run.json"], files["metrics.json"]
    for path, data in ((rj, info), (mj, metrics)):
        for key in ("model", "augmentation", "seed"):
            if _field(data, path, key) != run.keys[key]:
                raise UserError(f"{path}: {key} is {data[key]!r} but the file is in the folder of run {run}")
    versions = info.get("versions") or {}
    pooled_iou, val_pooled_iou = _field(metrics, mj, "pooled.iou"), _field(metrics, mj, "val.pooled.iou")
    return {
        **run.keys,
        "architecture": info.get("architecture"),
        "deep_supervision": info.get("deep_supervision"),
        "pooled_iou": pooled_iou,
        "per_image_mean_iou": _number(_field(metrics, mj, "per_image_mean.iou")),
        "precision": _field(metrics, mj, "pooled.precision"),
        "recall": _field(metrics, mj, "pooled.recall"),
        "f1": _field(metrics, mj, "pooled.f1"),
        "max_f": _field(metrics, mj, "max_f"),
        "average_precision": _field(metrics, mj, "average_precision"),
        "boundary_iou": _number(_field(metrics, mj, "boundary_iou")),
        "val_pooled_iou": val_pooled_iou,
        "val_test_gap": val_pooled_iou - pooled_iou,
        "n_test_images": metrics.get("n_images"),
        "n_empty_reference": _field(metrics, mj, "n_empty_reference"),
        "mode": _field(metrics, mj, "mode"),
        "mode_chosen_on": _field(metrics, mj, "mode_chosen_on"),
        "threshold": metrics.get("threshold"),
        "threshold_chosen_on": metrics.get("threshold_chosen_on"),
        "best_epoch": _field(info, rj, "best_epoch"),
        "epochs_run": _field(info, rj, "epochs_run"),
        "best_val_road_iou": info.get("best_val_road_iou"),
        "train_seconds": _field(info, rj, "train_seconds"),
        "parameters": _field(info, rj, "parameters"),
        "training_flops_per_image": _field(metrics, mj, "training_flops_per_image"),
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
        images = read_csv(files["per_image.csv"], PER_IMAGE_COLUMNS, {"stem": str})
        if images["empty_reference"].dtype != bool:
            raise UserError(f"{files['per_image.csv']}: column empty_reference must be True or False")
        per_image.append(_with_keys(images, run))
        for mode in metrics.get("modes") or []:
            modes.append({**run.keys, **{key: _field(mode, files["metrics.json"], key) for key in MODE_KEYS}})
    return Tables(
        runs=pd.DataFrame(rows),
        histories=pd.concat(histories, ignore_index=True),
        per_image=pd.concat(per_image, ignore_index=True),
        modes=pd.DataFrame(modes, columns=[*RUN_KEYS, *MODE_KEYS]),
    )


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Per model x augmentation x metric: n, mean, std and 95% t-interval over runs (seeds, splits)."""
    rows = [
        {"model": model, "augmentation": aug, "metric": metric, **asdict(stats.mean_ci(group[metric]))}
        for (model, aug), group in runs.groupby(["model", "augmentation"], sort=False)
        for metric in SUMMARY_METRICS
    ]
    return pd.DataFrame(rows)


def _modes_chosen(modes: pd.Series) -> str:
    """'L4 (5), accurate (1)': how often each inference mode was chosen."""
    return ", ".join(f"{mode} ({count})" for mode, count in modes.value_counts().items())


def model_table(runs: pd.DataFrame, resamples: int, seed: int) -> pd.DataFrame:
    """Per model: IQM of pooled IoU over runs with rliable's stratified-bootstrap interval (tasks:
    (split, augmentation) conditions), and means of the other metrics and costs."""
    rows = []
    for model, group in runs.groupby("model", sort=False):
        matrix = group.pivot_table(index="seed", columns=["split", "augmentation"], values="pooled_iou").dropna()
        iqm = stats.stratified_interval(matrix.to_numpy(), stats.iqm, resamples, seed)
        rows.append({
            "model": model, "n_runs": len(group),
            "iqm_pooled_iou": iqm.value, "iqm_low": iqm.low, "iqm_high": iqm.high,
            **{f"mean_{m}": group[m].mean() for m in ("pooled_iou", "per_image_mean_iou", "max_f", "average_precision",
                                                        "boundary_iou", "val_pooled_iou", "val_test_gap")},
            "parameters": group["parameters"].median(),
            "training_flops_per_image": group["training_flops_per_image"].median(),
            "images_per_second": group["images_per_second"].mean(),
            "modes_chosen": _modes_chosen(group["mode"]),
            "mode_chosen_on": ", ".join(dict.fromkeys(group["mode_chosen_on"].astype(str))),
            "n_empty_reference": group["n_empty_reference"].max(),
        })
    return pd.DataFrame(rows)


def complete_seeds(runs: pd.DataFrame, models: list[str], augmentations: list[str], splits: list[int]) -> list[int]:
    """Seeds with a run of every model for every augmentation and split: the pairs a comparison may use."""
    have = set(zip(runs["model"], runs["augmentation"], runs["split"], runs["seed"]))
    return [seed for seed in dict.fromkeys(runs["seed"])
            if all((m, a, s, seed) in have for m, a, s in product(models, augmentations, splits))]


def design(per_image: pd.DataFrame, baseline: str, candidate: str, augmentations: list[str], splits: list[int],
           seeds: list[int]) -> list[Split]:
    """Per split: the aligned (model, augmentation, seed, image) arrays that bootstrap.Split holds."""
    result = []
    for split in splits:
        rows = per_image[(per_image["split"] == split) & per_image["seed"].isin(seeds)]
        stems = tuple(sorted(rows["stem"].unique()))
        shape = (2, len(augmentations), len(seeds), len(stems))
        table = rows.set_index(["model", "augmentation", "seed", "stem"])
        index = pd.MultiIndex.from_product([[baseline, candidate], augmentations, seeds, stems])
        if not index.isin(table.index).all():
            absent = index[~index.isin(table.index)][0]
            raise UserError(f"per_image.csv of run {absent[0]}/{absent[1]}/split{split}/seed{absent[2]} has no row "
                            f"for test image {absent[3]!r}, which other runs of split {split} scored")
        aligned = table.reindex(index)
        counts = aligned[["tp", "fp", "fn"]].to_numpy(float).reshape(*shape, 3)
        iou = aligned["iou"].to_numpy(float).reshape(shape)
        result.append(Split(counts=counts, iou=iou, stems=stems))
    return result


def comparisons(tables: Tables, args) -> list[Comparison]:
    """The candidate against every other model, per augmentation and over all, on both metrics."""
    result = []
    scopes = [(aug, [aug]) for aug in args.augmentations]
    if len(args.augmentations) > 1:
        scopes.append((ALL, list(args.augmentations)))
    for baseline in [args.baseline, *[m for m in args.models if m not in (args.baseline, args.candidate)]]:
        for scope, augmentations in scopes:
            seeds = complete_seeds(tables.runs, [baseline, args.candidate], augmentations, args.splits)
            if not seeds:
                continue
            splits = design(tables.per_image, baseline, args.candidate, augmentations, args.splits, seeds)
            for metric in METRICS:
                result.append(compare(splits, baseline, args.candidate, metric, scope, min_effect=args.min_effect,
                                      resamples=args.bootstrap_resamples, seed=args.bootstrap_seed))
    return result


def verdict_fields(found: list[Comparison], args) -> dict:
    """The headline comparison with its sentence, the other views, and the conflicts among them."""
    ours = [c for c in found if c.baseline == args.baseline]
    headline_scope = ALL if len(args.augmentations) > 1 else args.augmentations[0]
    headline = next((c for c in ours if c.scope == headline_scope and c.metric == args.metric), None)
    if headline is None:
        return {"decision": "no_pairs", "metric": args.metric, "min_effect": args.min_effect,
                "n_splits": len(args.splits), "resamples": args.bootstrap_resamples, "scope": headline_scope,
                "sentence": f"No seed has runs of both {args.candidate} and {args.baseline} for every augmentation: "
                            "nothing to compare.", "conflicts": [], "by_augmentation": [], "by_baseline": []}
    secondary = next(c for c in ours if c.scope == headline_scope and c.metric != args.metric)
    views = {METRIC_NAMES[args.metric]: headline,
             METRIC_NAMES[secondary.metric]: secondary,
             **{f"{METRIC_NAMES[args.metric]} on augmentation {c.scope}": c
                for c in ours if c.metric == args.metric and c.scope != headline_scope}}
    found_conflicts = conflicts(views)

    def entry(c: Comparison) -> dict:
        return {**c.as_row(), "sentence": sentence(c)}

    return {
        **headline.as_row(),
        "sentence": sentence(headline, found_conflicts),
        "conflicts": found_conflicts,
        "secondary": entry(secondary),
        "by_augmentation": [entry(c) for c in ours if c.metric == args.metric and c.scope != headline_scope],
        "by_baseline": [entry(c) for c in found if c.baseline != args.baseline and c.scope == headline_scope
                        and c.metric == args.metric],
    }


def image_pairs(per_image: pd.DataFrame, baseline: str, candidate: str) -> pd.DataFrame:
    """Per (augmentation, test image): each model's IoU averaged over seeds and splits (images
    without a reference left out), for the scatter plot."""
    wide = per_image.pivot_table(index=["augmentation", "stem"], columns="model", values="iou", aggfunc="mean")
    return wide.reindex(columns=[baseline, candidate]).dropna()


def pruning(modes: pd.DataFrame) -> pd.DataFrame:
    """Per model x augmentation x inference mode: val and test means over runs (and spreads)."""
    return (
        modes.groupby(["model", "augmentation", "mode"], sort=False)
        .agg(
            n=("seed", "size"),
            parameters=("parameters", "median"),
            val_pooled_iou=("val_pooled_iou", "mean"),
            pooled_iou=("pooled_iou", "mean"),
            pooled_iou_std=("pooled_iou", "std"),
            per_image_mean_iou=("per_image_mean_iou", "mean"),
            images_per_second=("images_per_second", "mean"),
            images_per_second_std=("images_per_second", "std"),
        )
        .reset_index()
    )


def _json_safe(value):
    """NaN -> null, numpy scalars -> Python numbers, recursively, so that verdict.json is strict JSON."""
    if isinstance(value, np.generic):
        value = value.item()
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
    if not 0 < args.min_effect < 1:
        raise UserError(f"--min-effect {args.min_effect}: give it in IoU units, between 0 and 1 (0.01 = 1 IoU point)")
    if args.bootstrap_resamples < 1000:
        raise UserError(f"--bootstrap-resamples {args.bootstrap_resamples}: at least 1000 for a 95% interval")
    return [Run(m, a, sp, s, args.results, args.dataset)
            for m, a, sp, s in product(args.models, args.augmentations, args.splits, args.seeds)]


def split_complete(expected: list[Run], allow_missing: bool) -> tuple[list[Run], list[dict]]:
    """(runs with every file, records of the others); an error listing the others unless allowed."""
    missing_files = {run: run.missing() for run in expected}
    missing = [{**run.keys, "missing": files} for run, files in missing_files.items() if files]
    lines = "\n".join(f"  {m['model']}/{m['augmentation']}/split{m['split']}/seed{m['seed']}: {', '.join(m['missing'])}"
                      for m in missing)
    if len(missing) == len(expected):
        raise UserError(f"none of the {len(expected)} expected runs is complete:\n{lines}")
    if missing and not allow_missing:
        raise UserError(
            f"{len(missing)} of {len(expected)} expected runs are missing files (means over fewer seeds would "
            f"mislead; give --allow-missing to aggregate without them):\n{lines}"
        )
    return [run for run, files in missing_files.items() if not files], missing


def run(args) -> int:
    args.dataset = args.dataset or args.results.resolve().name
    expected = expected_runs(args)
    found, missing = split_complete(expected, args.allow_missing)
    tables = load_runs(found)
    out = args.out_dir
    (out / layout.PLOTS_DIR).mkdir(parents=True, exist_ok=True)
    (out / layout.GRIDS_DIR).mkdir(parents=True, exist_ok=True)
    found_comparisons = comparisons(tables, args)
    tables.runs.to_csv(out / layout.AGGREGATE_TABLES["runs"], index=False)
    summarize(tables.runs).to_csv(out / layout.AGGREGATE_TABLES["summary"], index=False)
    model_table(tables.runs, args.bootstrap_resamples, args.bootstrap_seed).to_csv(out / layout.AGGREGATE_TABLES["models"], index=False)
    pd.DataFrame([c.as_row() for c in found_comparisons], columns=ROW_COLUMNS).to_csv(out / layout.AGGREGATE_TABLES["comparison"],
                                                                                     index=False)
    tables.per_image.to_csv(out / layout.AGGREGATE_TABLES["per_image"], index=False)
    pruning_table = pruning(tables.modes)
    pruning_table.to_csv(out / layout.AGGREGATE_TABLES["pruning"], index=False)

    from segsweep.reporting import grids, plots

    pairs = image_pairs(tables.per_image, args.baseline, args.candidate)
    plots.write_all(tables, pairs, pruning_table, args.baseline, args.candidate, out)
    first_split = tables.runs[tables.runs["split"] == args.splits[0]]
    grid_files = grids.write_grids(
        tables.per_image, set(zip(first_split["augmentation"], first_split["seed"], first_split["model"])),
        results=args.results, split=args.splits[0], fmt=format_from_args(args.format, args.folder),
        positive_ids=args.positive_ids, void_ids=args.void_ids, seeds=args.seeds, augmentations=args.augmentations,
        baseline=args.baseline, candidate=args.candidate, k=args.grid_images, out_dir=out / layout.GRIDS_DIR,
    )
    verdict = {
        "dataset": args.dataset,
        "baseline": args.baseline,
        "candidate": args.candidate,
        **verdict_fields(found_comparisons, args),
        "models": list(args.models),
        "runs_expected": len(expected),
        "runs_found": len(found),
        "missing_runs": missing,
        "grids": grid_files,
    }
    (out / layout.VERDICT_FILE).write_text(json.dumps(_json_safe(verdict), indent=2) + "\n")
    print(verdict["sentence"])
    return 0
