"""The index's forest plot: every experiment's headline difference with its interval, one row each.

The standard layout (as in a meta-analysis, without its pooled diamond): a point at the difference,
candidate minus baseline, a horizontal line over its interval, the margin band +-min_effect shaded
behind the row, and 0 drawn across every row. Only rows on the same metric share an axis: a
difference in pooled IoU and one in per-image IoU (or a class's IoU, or the mean over classes) are
not on one scale, so each metric gets its own panel with its own label.

No pooled estimate is drawn: each experiment's test set asks its own question (another dataset,
split or tuning budget), and an average of their differences would answer none of them.

Draws from the records of segsweep.reporting.index.forest_records, the rows of the CSV written
beside the plot, so the CSV re-plots it. Colours are seaborn's colour-blind palette.
"""

from __future__ import annotations

from pathlib import Path

from segsweep.reporting.plots import save_figure, themed_pyplot
from segsweep.statistics.decision import METRIC_NAMES

# The index's decision words -> a colour of seaborn's colour-blind palette; any other word is grey.
DECISION_COLOURS = {"candidate better": 2, "candidate worse": 3, "equivalent": 0, "inconclusive": 7}
GREY = 7
ROW_INCHES = 0.55


def metric_label(metric: str | None) -> str:
    """A panel's words for a verdict's `metric`: its report's name, and for the class metrics of a
    multi-class sweep (`miou`, `iou:<class>`) theirs."""
    if metric is None:
        return "metric not recorded"
    if metric in METRIC_NAMES:
        return METRIC_NAMES[metric]
    if metric == "miou":
        return "mean test IoU over classes"
    return f"test IoU of class {metric.removeprefix('iou:')}" if metric.startswith("iou:") else metric


def row_label(record: dict) -> str:
    """The experiment's name over what it compared, on which dataset, and an interval's level
    where it is not 95% (a sequential sweep's repeated interval)."""
    name = record["experiment"] + (" (partial)" if record["partial"] else "")
    compared = f"{record['candidate'] or '?'} vs {record['baseline'] or '?'}, {record['dataset'] or '?'}"
    level = record["level"]
    if level is not None and level != 0.95:
        compared += f", {100 * level:.2f}% interval"
    return f"{name}\n{compared}"


def panels(records: list[dict]) -> dict[str | None, list[dict]]:
    """The records by metric, each metric's panel in the order of its first row."""
    found: dict[str | None, list[dict]] = {}
    for record in records:
        found.setdefault(record["metric"], []).append(record)
    return found


def draw(records: list[dict], path: Path) -> None:
    """One panel per metric, its rows in the order given (the index's, newest first) top down;
    every record must have an interval (Headline.plotted)."""
    plt, sns = themed_pyplot()
    from matplotlib.patches import Patch

    palette = sns.color_palette("colorblind")
    by_metric = panels(records)
    heights = [len(rows) + 1.6 for rows in by_metric.values()]
    fig, axes = plt.subplots(
        len(by_metric), 1, figsize=(9, ROW_INCHES * sum(heights) + 0.9), height_ratios=heights, squeeze=False
    )
    for ax, (metric, rows) in zip(axes[:, 0], by_metric.items()):
        for y, record in enumerate(rows):
            colour = palette[DECISION_COLOURS.get(record["decision"], GREY)]
            if record["margin"] is not None:
                margin = 100 * record["margin"]
                ax.fill_betweenx([y - 0.4, y + 0.4], -margin, margin, color=palette[GREY], alpha=0.25, linewidth=0)
            ax.hlines(y, 100 * record["low"], 100 * record["high"], color=colour, linewidth=2.5)
            ax.plot(100 * record["difference"], y, "o", color=colour, markersize=8, markeredgecolor="black")
        ax.axvline(0, color="black", linewidth=1)
        ax.set_yticks(range(len(rows)), [row_label(record) for record in rows])
        ax.set_ylim(len(rows) - 0.5, -0.5)  # the first row on top
        ax.grid(axis="y", visible=False)
        ax.set(title=metric_label(metric), xlabel="candidate minus baseline, IoU points")
    decisions = list(dict.fromkeys(record["decision"] for record in records))
    handles = [Patch(color=palette[DECISION_COLOURS.get(d, GREY)], label=d) for d in decisions]
    handles.append(Patch(color=palette[GREY], alpha=0.25, label="±margin (report.min_effect)"))
    fig.tight_layout(rect=(0, 0.4 / fig.get_figheight(), 1, 1))  # room for the legend below
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize="small")
    save_figure(fig, path)
