"""The task a config trains, resolved once when the workflow is built: binary road, or K classes.

`resolve_task` writes into ``config["dataset"]`` what every job then reads from its settings,
so no job needs the format's class list or the decision's settings:
``classes`` (the checked list of {name, ids, colour}), ``focus`` (the class the road columns
describe) and ``choose_on`` (``miou`` or ``focus``: the validation score epochs, the inference
mode and tuning trials are chosen on, the decision's own metric). A bad class list, or a metric
that needs classes the config has not, is refused naming the key before any job runs.
"""

from __future__ import annotations

from segsweep.config.models import model_names
from segsweep.config.presets import model_variants
from segsweep.data.classes import class_rows, focus_name
from segsweep.data.folder import dataset_format
from segsweep.data.formats import classes_of
from segsweep.errors import ConfigError

CLASS_METRICS = ("miou",)  # decision metrics that only a multi-class task has, besides iou:<class>


def resolve_task(config: dict) -> None:
    """Resolve ``dataset.classes`` in place (module docstring); a binary config is left as it is."""
    dataset, metric = config["dataset"], config["report"]["metric"]
    classes = classes_of(dataset_format(dataset), dataset.get("classes"), dataset.get("void_ids"))
    class_metric = metric in CLASS_METRICS or metric.startswith("iou:")
    if classes is None:
        if class_metric:
            raise ConfigError(f"key 'report.metric': {metric!r} needs dataset.classes (the binary task has road only)")
        _refuse_class_weights(config)
        return
    dataset["classes"] = class_rows(classes)
    dataset["focus"] = focus_name(classes, metric)
    dataset["choose_on"] = "miou" if metric == "miou" else "focus"
    tune = config.get("tune")
    wanted = "val_miou" if metric == "miou" else "val_road_iou"
    if tune and tune.get("metric", "val_road_iou") != wanted:
        raise ConfigError(
            f"key 'tune.metric': report.metric {metric!r} is decided on {wanted} on validation; set it so"
        )


def _refuse_class_weights(config: dict) -> None:
    """A binary config has no classes to weight, in its `train` block nor in a swept model
    variant's own `train` overrides (which replace the block's keys for that model)."""
    variants = model_variants(config)
    where = [("train.class_weights", config["train"].get("class_weights", "none"))] + [
        (f"model_variants.{name}.train.class_weights", variants[name]["train"]["class_weights"])
        for name in model_names(config)
        if "class_weights" in variants[name].get("train", {})
    ]
    for key, weighting in where:
        if weighting != "none":
            raise ConfigError(
                f"key '{key}': {weighting!r} weights the classes of dataset.classes; "
                "the binary task has none: set dataset.classes, or class_weights: none"
            )
