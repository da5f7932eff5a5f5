"""Checks of a config that span several keys, which the JSON schema cannot express, made before any
job is queued; and the per-job checks training makes again on a hand-written ``--settings`` JSON.

Free of TensorFlow imports: the Snakefile runs them when it builds the DAG.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from segsweep.config.models import check_model_names, model_names
from segsweep.config.presets import BUILTIN_MODEL_VARIANTS, augmentation_presets, model_variants
from segsweep.config.schema import schema, schema_error_text, validator_with_defaults
from segsweep.config.sequential import check_sequential
from segsweep.config.settings import job_settings, model_and_train
from segsweep.config.tuning import check_tuning, train_overrides, trial_configurations, with_train
from segsweep.errors import ConfigError


def check_input_size(
    filters: Sequence[int], input_size: Sequence[int], patch_size: Sequence[int] | None = None
) -> None:
    """Each pooling halves the image: height and width, of the frame and of a training patch, must
    divide by 2**(depth-1); a patch is cut from the frame, so it fits in it."""
    depth = len(filters)
    factor = 2 ** (depth - 1)
    for key, sizes in (("train.input_size", input_size), ("train.patch_size", patch_size or ())):
        for axis, size in zip(("height", "width"), sizes):
            if size % factor:
                raise ConfigError(
                    f"key '{key}': {axis} {size} is not divisible by 2**(depth-1) = {factor} "
                    f"(depth {depth} from 'network.filters')"
                )
    if patch_size and any(patch > frame for patch, frame in zip(patch_size, input_size)):
        raise ConfigError(
            f"key 'train.patch_size': {list(patch_size)} does not fit in train.input_size {list(input_size)}, "
            "the frame it is cut from"
        )


def check_warmup(warmup_epochs: int, epochs: int) -> None:
    if warmup_epochs >= epochs:
        raise ConfigError(
            f"key 'train.warmup_epochs': {warmup_epochs} warm-up epochs leave none of the {epochs} "
            "'train.epochs' at the full learning rate"
        )


def deep_supervision_weights(train: dict, model: dict) -> list[float] | None:
    """Keras ``loss_weights`` of a deep-supervised U-Net++'s heads (shallow to deep), None for other models.

    The weights apply to the heads' losses only; the inference output stays the plain mean of the heads.
    """
    weights = train["deep_supervision_weights"]
    heads = len(model["filters"]) - 1
    if weights is None or model["architecture"] != "unetpp" or not model.get("deep_supervision", True):
        return None
    if len(weights) != heads:
        raise ConfigError(
            f"key 'train.deep_supervision_weights': {len(weights)} weights for the {heads} heads of a U-Net++ "
            f"of depth {heads + 1} ('network.filters')"
        )
    if not any(weights):
        raise ConfigError("key 'train.deep_supervision_weights': at least one head needs a weight above 0")
    return [float(weight) for weight in weights]


def training_jobs(config: dict, name: str):
    """(where, settings) of each kind of training job of a model: its runs (where None), and with
    `tune` each trial's, so that a drawn value the network cannot take is refused before any job."""
    job = job_settings(config, name, "none")
    yield None, job
    for trial, configuration in enumerate(trial_configurations(config["tune"]) if config.get("tune") else []):
        yield f"key 'tune.space', trial {trial} {configuration}", with_train(job, train_overrides(configuration))


def split_count(split: dict) -> int:
    """Splits on the split axis: `folds` folds, one per `hold_out_each` group, or `repeats` random splits."""
    return split["folds"] or len(split["hold_out_each"]) or split["repeats"]


def check_split(split: dict, index: int = 0) -> dict:
    """The config's `split` mapping with the schema's defaults filled, checked across its keys, and
    split `index` of its axis: the one check of a split, made by check_config before any job and by
    `segsweep split` (segsweep.data.split.make_split) on settings given by hand."""
    split = json.loads(json.dumps(split))  # the caller's mapping stays as given
    errors = list(validator_with_defaults()(schema()["properties"]["split"]).iter_errors(split))
    if errors:
        raise ConfigError(f"key '{'.'.join(map(str, ['split', *errors[0].absolute_path]))}': {errors[0].message}")
    fractions = split["fractions"]
    if abs(sum(fractions.values()) - 1.0) > 1e-6:
        raise ConfigError(f"key 'split.fractions': train + val + test must be 1, got {sum(fractions.values()):g}")
    axes = [
        f"'split.{key}'"
        for key, on in (
            ("repeats", split["repeats"] > 1),
            ("folds", split["folds"] is not None),
            ("hold_out_each", split["hold_out_each"]),
        )
        if on
    ]
    if len(axes) > 1:
        raise ConfigError(f"keys {' and '.join(axes)} are different kinds of split axis: set one of them")
    both = sorted(set(split["hold_out_each"]) & set(split["test_groups"]))
    if both:
        raise ConfigError(
            f"keys 'split.test_groups' and 'split.hold_out_each' both hold {both}: a group is in one of them"
        )
    n_splits = split_count(split)
    if not 0 <= index < n_splits:
        raise ConfigError(f"split index must be in 0..{n_splits - 1} ({n_splits} splits), got {index}")
    return split


def check_comparison(models: Sequence[str], baseline: str, candidate: str, *, flags: bool = False) -> None:
    """The report compares `candidate` with `baseline`: two different models of the sweep. Named as
    the config's keys, or as the command line's flags where `flags` (segsweep aggregate by hand)."""
    where = {role: f"--{role}" if flags else f"key 'report.{role}'" for role in ("baseline", "candidate")}
    listed = "--models" if flags else "'models'"
    for role, name in (("baseline", baseline), ("candidate", candidate)):
        if name not in models:
            raise ConfigError(
                f"{where[role]}: {name!r} is not in {listed} ({', '.join(models)}): "
                "the report compares the candidate with the baseline"
            )
    if baseline == candidate:
        raise ConfigError(
            f"{where['baseline']} and {where['candidate']} name the same model {baseline!r}: nothing to compare"
        )


# Training keys a compute-matched model's epochs follow from (segsweep.config.settings.budget_reference).
BUDGET_KEYS = ("train.epochs", "train.input_size")


def budget_key(config: dict, name: str) -> str:
    """Where model `name`'s train.budget is set: its variant's `train`, or the config's `train`."""
    in_variant = "budget" in model_variants(config)[name].get("train", {})
    return f"key 'model_variants.{name}.train.budget" if in_variant else "key 'train.budget"


def check_budgets(config: dict) -> None:
    """A compute-matched model (train.budget) is matched to another model of the sweep, one whose
    epochs are its own: a reference that is not swept would be matched for nothing, and a reference
    with a budget of its own would make the epochs depend on a chain of references (or a loop).
    With `tune`, the keys its epochs follow from may not be drawn: the reference's would be its
    chosen values, which are not known when the runs' settings are."""
    names = model_names(config)
    budgets = {name: model_and_train(config, name)[1].get("budget") for name in names}
    for name, budget in budgets.items():
        if budget is None:
            continue
        key, reference = budget_key(config, name), budget["reference"]
        if reference == name:
            raise ConfigError(f"{key}.reference': model {name!r} is matched to itself; name another model of 'models'")
        if reference not in names:
            raise ConfigError(
                f"{key}.reference': {reference!r}, the reference of model {name!r}, is not in 'models' "
                f"({', '.join(names)}): a budget is matched to a model the sweep trains"
            )
        if budgets[reference] is not None:
            raise ConfigError(
                f"{key}.reference': {reference!r}, the reference of model {name!r}, has a 'train.budget' of its "
                "own; match to a model that trains for its own epochs"
            )
        drawn = sorted(set(BUDGET_KEYS) & set(config.get("tune", {}).get("space", {})))
        if drawn:
            raise ConfigError(
                f"key 'tune.space': {', '.join(drawn)} may not be tuned while model {name!r} is compute-matched "
                f"({key}'): its epochs follow from its reference's"
            )


def largest_crop(step: dict) -> tuple[int, int] | None:
    """(height, width) in pixels of the largest crop a preset step cuts at a fixed size: a
    RandomSizedCrop's tallest strip at its w2h_ratio. None for every other step, whose crop (if any)
    is a fraction of the frame and so fits any frame."""
    if step.get("transform") != "RandomSizedCrop" or "min_max_height" not in step:
        return None
    tallest = int(step["min_max_height"][1])
    return tallest, int(tallest * step.get("w2h_ratio", 1.0))


def check_crops_fit(config: dict) -> None:
    """Every swept preset's fixed-size crops fit the procedural frames (dataset.generate.height x
    width). A larger crop fails at training (segsweep.training.augment.Augmenter.check_frames), since
    albumentations would clip it to the frame without a word and so train another augmentation than
    the one named; here it is refused before any job. Frames on disk have sizes the config does not
    state: training checks those against the images themselves."""
    frames = config["dataset"].get("generate")
    if frames is None:
        return
    presets, user_presets = augmentation_presets(config), config.get("augmentation_presets", {})
    for name in config["augmentations"]:
        where = (
            f"key 'augmentation_presets.{name}'" if name in user_presets else f"key 'augmentations': preset {name!r}"
        )
        for position, step in enumerate(presets[name], start=1):
            crop = largest_crop(step)
            if crop is None:
                continue
            for axis, size in zip(("height", "width"), crop):
                if size > frames[axis]:
                    raise ConfigError(
                        f"{where}, step {position} ({step['transform']}): crops up to {size} pixels in {axis}, more "
                        f"than the {frames[axis]}-pixel frames of key 'dataset.generate.{axis}'; albumentations would "
                        "clip the crops to the frame, another augmentation than the one named. Make the frames at "
                        f"least {size} pixels in {axis}, or sweep 'scale_crop', whose crops are fractions of each frame"
                    )


def check_config(config: dict) -> None:
    """Checks that span several keys, which the JSON schema cannot express."""
    check_model_names(config, {**BUILTIN_MODEL_VARIANTS, **config.get("model_variants", {})})
    variants = model_variants(config)
    presets = augmentation_presets(config)
    for name in config["augmentations"]:
        if name not in presets:
            raise ConfigError(
                f"key 'augmentations': no preset named {name!r} (built-in or in 'augmentation_presets': "
                f"{', '.join(presets)})"
            )
    check_crops_fit(config)
    train_keys = schema()["properties"]["train"]["properties"]
    for name, variant in variants.items():
        unknown = set(variant.get("train", {})) - set(train_keys)
        if unknown:
            raise ConfigError(f"key 'model_variants.{name}.train': unknown key(s) {', '.join(sorted(unknown))}")
        merged = {**config["train"], **variant.get("train", {})}
        errors = list(validator_with_defaults()(schema()["properties"]["train"]).iter_errors(merged))
        if errors:
            raise ConfigError(schema_error_text(errors[0], f"key 'model_variants.{name}.train'"))
    check_tuning(config, set(train_keys))
    check_budgets(config)  # before the job settings below, which read each budget's reference
    for name in model_names(config):  # the checks training makes, here before any job is queued
        for where, job in training_jobs(config, name):
            try:
                errors = list(validator_with_defaults()(schema()["properties"]["train"]).iter_errors(job["train"]))
                if errors:
                    raise ConfigError(schema_error_text(errors[0], "drawn value"))
                check_input_size(config["network"]["filters"], job["train"]["input_size"], job["train"]["patch_size"])
                check_warmup(job["train"]["warmup_epochs"], job["train"]["epochs"])
                deep_supervision_weights(job["train"], job["model"])
            except ConfigError as error:
                raise ConfigError(f"{where}: {error}" if where else str(error)) from None
    check_split(config["split"])
    dataset = config["dataset"]
    made_by_rule = "generate" in dataset or "download" in dataset
    if not made_by_rule and not Path(dataset["root"]).is_dir():
        raise ConfigError(
            f"key 'dataset.root': data folder {dataset['root']!r} does not exist "
            "(and neither 'dataset.generate' nor 'dataset.download' is set to make it)"
        )
    check_comparison(model_names(config), config["report"]["baseline"], config["report"]["candidate"])
    check_sequential(config)
