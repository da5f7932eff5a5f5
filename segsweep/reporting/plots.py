"""The aggregate step's figures, drawn with seaborn from the tidy tables.

Names from the config (models, augmentations) are drawn as plain text: mathtext is off, so a
name with a dollar sign cannot break a figure. Colours are seaborn's colour-blind palette.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from segsweep.layout import TUNING_PLOT, plot_file

DPI = 110
LEVELS = ("L1", "L2", "L3", "L4")  # pruned U-Net++ modes, shallowest first
# File stem -> caption, in report order; the HTML report shows each figure with its caption.
CAPTIONS = {
    "iou_by_model": "Pooled test IoU of every run, by augmentation and model: boxes over seeds, one point per seed.",
    "score_distribution": (
        "Score distribution (rliable's performance profile): for each test IoU on the x axis, the share of a "
        "model's runs (every augmentation, split and seed) that score above it. A curve lying to the right "
        "throughout means better runs at every level, not only on average."
    ),
    "per_image_scatter": (
        "Per test image, the two models' IoU (each a mean over seeds): points above the diagonal are images "
        "where the candidate is better."
    ),
    "val_iou_curves": (
        "Validation IoU after each epoch: the line is the mean over seeds, the band their range. Runs stopped "
        "early end sooner, so late epochs may average fewer seeds."
    ),
    "pruning_speed_iou": (
        "U-Net++ with deep supervision, pruned to its first 1-4 levels (L1..L4) and the accurate mode "
        "(mean of all heads): inference speed against test IoU, mean and std over seeds. The headline uses "
        "the mode each run chose on validation, not the best one here."
    ),
    "tuning_curves": (
        "Tuning curves (Dodge et al. 2019): each model's expected best validation IoU after n of its N random-search "
        "trials, n = 1..N, with the simultaneous 95% band of Lourie et al. 2023 (opda). Every model trained the same N "
        "configurations. Where the baseline's and the candidate's curves cross, which model is better depends on "
        "the tuning budget."
    ),
}
CONFUSION_CAPTION = (
    "Confusion matrix of {model}: the valid test pixels of its {runs} runs summed, each row divided by its true "
    "class's pixels, so that a row sums to 1 and its diagonal cell is the class's recall (a blank row: a class "
    "with no pixel in truth)."
)
ANNOTATED_CLASSES = 20  # more classes than this and the cells are too small for their numbers


def themed_pyplot():
    """pyplot and seaborn on the file-only Agg backend, with the report's theme."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", palette="colorblind", rc={"text.parse_math": False})
    return plt, sns


def save_figure(fig, path: Path) -> None:
    """Write `fig` at the report's resolution and free it: every plot, the report's and the index's."""
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)


def iou_by_model(runs: pd.DataFrame, path: Path) -> None:
    """Pooled test IoU per augmentation and model: a box over seeds, with each seed as a point."""
    plt, sns = themed_pyplot()
    n_aug = runs["augmentation"].nunique()
    fig, ax = plt.subplots(figsize=(max(5.0, 1.8 * n_aug + 2), 4))
    common = {"data": runs, "x": "augmentation", "y": "pooled_iou", "hue": "model", "ax": ax}
    with warnings.catch_warnings():  # seaborn 0.13.2 still passes matplotlib 3.11 the deprecated `vert`
        warnings.filterwarnings("ignore", message="vert: bool was deprecated")
        sns.boxplot(**common, showfliers=False, boxprops={"alpha": 0.45}, width=0.6)
    sns.stripplot(**common, dodge=True, size=7, edgecolor="black", linewidth=0.6, legend=False)
    ax.set(xlabel="augmentation preset", ylabel="test IoU (pooled)", title="Test IoU per run (one point per seed)")
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1, 1), title="model")
    save_figure(fig, path)


def score_distribution(runs: pd.DataFrame, path: Path) -> None:
    """The complementary ECDF of per-run pooled test IoU, one curve per model (a performance profile)."""
    plt, sns = themed_pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4))
    sns.ecdfplot(data=runs, x="pooled_iou", hue="model", complementary=True, linewidth=2, ax=ax)
    sns.rugplot(data=runs, x="pooled_iou", hue="model", height=0.04, legend=False, ax=ax)
    ax.set(
        xlabel="test IoU (pooled) of a run",
        ylabel="share of runs scoring above",
        title="Score distribution over runs (performance profile)",
        ylim=(0, 1.02),
    )
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1, 1), title="model")
    save_figure(fig, path)


def val_iou_curves(histories: pd.DataFrame, path: Path) -> None:
    """Validation IoU per epoch: mean over seeds, the band spanning the seeds' range."""
    plt, sns = themed_pyplot()
    grid = sns.relplot(
        data=histories,
        x="epoch",
        y="val_road_iou",
        hue="model",
        col="augmentation",
        kind="line",
        errorbar=("pi", 100),
        marker="o",
        markersize=4,
        height=3.2,
        aspect=1.25,
        col_wrap=min(3, histories["augmentation"].nunique()),
    )
    from matplotlib.ticker import MaxNLocator

    grid.set_axis_labels("epoch", "validation IoU")
    for ax in grid.axes.flat:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    grid.set_titles("augmentation: {col_name}")
    grid.figure.suptitle("Validation IoU per epoch (mean and range over seeds)", y=1.03)
    save_figure(grid.figure, path)


def per_image_scatter(pairs: pd.DataFrame, baseline: str, candidate: str, order: list[str], path: Path) -> None:
    """One point per (augmentation, test image): IoU of baseline vs candidate, each a mean over seeds."""
    plt, sns = themed_pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 6))
    data = pairs.reset_index()
    sns.scatterplot(
        data=data,
        x=baseline,
        y=candidate,
        hue="augmentation",
        style="augmentation",
        hue_order=order,
        style_order=order,
        s=45,
        alpha=0.8,
        ax=ax,
    )
    low = float(min(data[baseline].min(), data[candidate].min(), 1.0)) - 0.02
    ax.plot([low, 1], [low, 1], color="0.4", linestyle="--", linewidth=1, label="equal IoU")
    ax.set(
        xlim=(low, 1.005),
        ylim=(low, 1.005),
        aspect="equal",
        xlabel=f"{baseline}: per-image IoU (mean over seeds)",
        ylabel=f"{candidate}: per-image IoU (mean over seeds)",
        title=f"Per test image: above the line, {candidate} is better",
    )
    ax.legend(loc="lower right", fontsize="small")
    save_figure(fig, path)


def pruning_speed_iou(pruning: pd.DataFrame, path: Path) -> None:
    """Speed vs IoU of U-Net++ inference modes (pruned levels L1..L4 and the accurate mean of heads)."""
    plt, sns = themed_pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    if pruning.empty:
        ax.axis("off")
        ax.text(
            0.5,
            0.5,
            "No deep-supervised U-Net++ run in this sweep:\nno pruned levels to compare.",
            ha="center",
            va="center",
            fontsize=13,
            color="0.3",
            transform=ax.transAxes,
        )
        save_figure(fig, path)
        return
    groups = list(pruning.groupby(["model", "augmentation"], sort=False))
    for index, (colour, ((model, aug), group)) in enumerate(zip(sns.color_palette("colorblind", len(groups)), groups)):
        group = group.set_index("mode")
        levels = group.reindex([m for m in LEVELS if m in group.index])
        ax.errorbar(
            levels["images_per_second"],
            levels["pooled_iou"],
            xerr=levels["images_per_second_std"],
            yerr=levels["pooled_iou_std"],
            fmt="o-",
            color=colour,
            capsize=3,
            label=f"{model} / {aug}",
        )
        if "accurate" in group.index:
            ax.plot(
                group.at["accurate", "images_per_second"],
                group.at["accurate", "pooled_iou"],
                marker="*",
                markersize=14,
                color=colour,
                markeredgecolor="black",
                linestyle="none",
            )
        if index == 0:  # one set of level labels: the groups lie close together
            for mode, row in levels.iterrows():
                ax.annotate(
                    mode,
                    (row["images_per_second"], row["pooled_iou"]),
                    textcoords="offset points",
                    xytext=(7, 5),
                    fontsize=9,
                    color="0.2",
                )
    ax.set(
        xlabel="inference speed (images/s)",
        ylabel="test IoU (pooled)",
        title="U-Net++ pruning: speed vs IoU (mean ± std over seeds; star: accurate)",
    )
    ax.legend(title="model / augmentation", fontsize="small", loc="best")
    save_figure(fig, path)


def confusion_heatmap(rates: np.ndarray, names: list[str], model: str, runs: int, path: Path) -> None:
    """A K x K heatmap of `rates` (segsweep.reporting.classes.row_rates: rows truth, columns
    predicted), class names on both axes, each cell's share written in it where K is small enough."""
    plt, sns = themed_pyplot()
    side = max(4.5, 0.45 * len(names) + 2.5)
    fig, ax = plt.subplots(figsize=(side + 1.2, side))
    sns.heatmap(
        pd.DataFrame(rates, index=names, columns=names),
        vmin=0,
        vmax=1,
        cmap="viridis",
        square=True,
        annot=len(names) <= ANNOTATED_CLASSES,
        fmt=".2f",
        annot_kws={"fontsize": 7 if len(names) > 10 else 9},
        linewidths=0.5,
        cbar_kws={"label": "share of the true class's pixels"},
        ax=ax,
    )
    ax.set(xlabel="predicted class", ylabel="true class", title=f"{model}: confusion over {runs} runs (rows sum to 1)")
    ax.tick_params(axis="x", labelrotation=45)
    plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")
    save_figure(fig, path)


def tuning_curves(tuning: dict, baseline: str, candidate: str, path: Path) -> None:
    """Each model's expected best validation score after n = 1..N trials (verdict.json's `tuning`),
    with its 95% band; the title says whether the baseline's and the candidate's curves cross."""
    plt, sns = themed_pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6.4, 4))
    models = tuning["models"]
    for colour, (model, curve) in zip(sns.color_palette("colorblind", len(models)), models.items()):
        ax.plot(curve["n"], curve["expected_best"], "o-", color=colour, label=model)
        ax.fill_between(curve["n"], curve["low"], curve["high"], color=colour, alpha=0.2, linewidth=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    crossing = "cross: the ranking depends on the budget" if tuning["curves_cross"] else "do not cross"
    ax.set(
        xlabel="tuning trials n",
        ylabel="expected best validation IoU",
        title=f"Tuning curves of {baseline} and {candidate}: they {crossing}",
    )
    ax.legend(title="model (95% band)", loc="upper left", bbox_to_anchor=(1, 1))
    save_figure(fig, path)


def write_all(
    tables,
    image_pairs: pd.DataFrame,
    pruning: pd.DataFrame,
    baseline: str,
    candidate: str,
    aggregate_dir: Path,
    tuning: dict | None = None,
) -> None:
    """Every figure of segsweep.layout.plot_names, where segsweep.layout puts it (the workflow's
    outputs): the tuning curves only where verdict.json has a `tuning` block to draw."""
    iou_by_model(tables.runs, plot_file(aggregate_dir, "iou_by_model"))
    score_distribution(tables.runs, plot_file(aggregate_dir, "score_distribution"))
    val_iou_curves(tables.histories, plot_file(aggregate_dir, "val_iou_curves"))
    order = list(dict.fromkeys(tables.runs["augmentation"]))
    per_image_scatter(image_pairs, baseline, candidate, order, plot_file(aggregate_dir, "per_image_scatter"))
    pruning_speed_iou(pruning, plot_file(aggregate_dir, "pruning_speed_iou"))
    if tuning:
        tuning_curves(tuning, baseline, candidate, plot_file(aggregate_dir, TUNING_PLOT))
