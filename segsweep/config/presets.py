"""Built-in presets, as data: augmentation presets (name -> albumentations transforms) and model
variants (name -> architecture settings); the config's keys add to or override them.

Kept free of imports so that config checks can list the names without loading albumentations.
Each step is ``{"transform": ClassName, **arguments}``; `segsweep.training.augment` builds them
with albumentations 2 and appends the resize to ``train.input_size`` (a RandomSizedCrop without
``size`` gets the input size too, and a RandomResizedCrop without ``ratio`` the input size's
aspect ratio, so that crops are not stretched by the resize). Config key ``augmentation_presets`` adds or overrides presets.
"""

from __future__ import annotations

from segsweep.config.models import user_model_variants

BUILTIN_PRESETS: dict[str, list[dict]] = {
    # Only the resize to the network's input size.
    "none": [],
    # The seed notebook's: HorizontalFlip p=0.5 + RandomSizedCrop(min_max_height=(300, 370),
    # w2h_ratio=370/1242, p=0.5), then Resize. Note w2h_ratio < 1: the crop is a tall strip.
    "flip_crop": [
        {"transform": "HorizontalFlip", "p": 0.5},
        {"transform": "RandomSizedCrop", "min_max_height": [300, 370], "w2h_ratio": 370 / 1242, "p": 0.5},
    ],
    # Across drives: the road appears at other scales and places, under other light. A crop of
    # 60-100% of the frame's height (area 0.36-1) at the input size's aspect ratio, so the resize
    # after it does not stretch; mirror images; mild lighting and colour changes. Unlike
    # flip_crop it holds for any frame size, since the crop is a fraction of the frame.
    "scale_crop": [
        {"transform": "HorizontalFlip", "p": 0.5},
        {"transform": "RandomResizedCrop", "scale": [0.36, 1.0], "p": 1.0},
        {"transform": "RandomBrightnessContrast", "brightness_limit": 0.2, "contrast_limit": 0.2, "p": 0.5},
        {
            "transform": "HueSaturationValue",
            "hue_shift_limit": 5,
            "sat_shift_limit": 15,
            "val_shift_limit": 10,
            "p": 0.3,
        },
    ],
    # Lighting and focus changes only: geometry (and so the mask) is untouched.
    "photometric": [
        {"transform": "RandomBrightnessContrast", "brightness_limit": 0.25, "contrast_limit": 0.25, "p": 0.8},
        {
            "transform": "HueSaturationValue",
            "hue_shift_limit": 10,
            "sat_shift_limit": 20,
            "val_shift_limit": 10,
            "p": 0.5,
        },
        {"transform": "GaussianBlur", "blur_limit": [3, 5], "p": 0.3},
    ],
}


# Built-in model variants; config key `model_variants` adds to or overrides them. The two fair
# baselines of the U-Net++ paper: `unet_wide`, a U-Net with U-Net++'s parameter count (within
# 2%, at the same network.filters: segsweep.models.widths), and `unetpp_nods`, U-Net++ with one
# head and no deep supervision. And the other half of nnU-Net Revisited's point (Isensee et al.
# 2024), a compute-matched baseline: `unet_flops`, a U-Net trained for as many epochs as give it
# U-Net++'s training FLOPs (train.budget; segsweep.training.budget works out the epochs).
BUILTIN_MODEL_VARIANTS: dict[str, dict] = {
    "unet": {"architecture": "unet"},
    "unetpp": {"architecture": "unetpp", "deep_supervision": True},
    "unet_wide": {"architecture": "unet", "match_unetpp_parameters": True},
    "unetpp_nods": {"architecture": "unetpp", "deep_supervision": False},
    "unet_flops": {"architecture": "unet", "train": {"budget": {"match": "flops", "reference": "unetpp"}}},
}


def augmentation_presets(config: dict) -> dict[str, list[dict]]:
    return {**BUILTIN_PRESETS, **config.get("augmentation_presets", {})}


def model_variants(config: dict) -> dict[str, dict]:
    """Built-in variants, the config's `model_variants`, and its user models (`segsweep.config.models`)."""
    return {**BUILTIN_MODEL_VARIANTS, **config.get("model_variants", {}), **user_model_variants(config)}
