"""Built-in augmentation presets, as data: name -> albumentations transforms.

Kept free of imports so that config checks can list the names without loading albumentations.
Each step is ``{"transform": ClassName, **arguments}``; `segsweep.training.augment` builds them
with albumentations 2 and appends the resize to ``train.input_size`` (a RandomSizedCrop without
``size`` gets the input size too). Config key ``augmentation_presets`` adds or overrides presets.
"""

from __future__ import annotations

BUILTIN_PRESETS: dict[str, list[dict]] = {
    # Only the resize to the network's input size.
    "none": [],
    # The seed notebook's: HorizontalFlip p=0.5 + RandomSizedCrop(min_max_height=(300, 370),
    # w2h_ratio=370/1242, p=0.5), then Resize. Note w2h_ratio < 1: the crop is a tall strip.
    "flip_crop": [
        {"transform": "HorizontalFlip", "p": 0.5},
        {"transform": "RandomSizedCrop", "min_max_height": [300, 370], "w2h_ratio": 370 / 1242, "p": 0.5},
    ],
    # Lighting and focus changes only: geometry (and so the mask) is untouched.
    "photometric": [
        {"transform": "RandomBrightnessContrast", "brightness_limit": 0.25, "contrast_limit": 0.25, "p": 0.8},
        {"transform": "HueSaturationValue", "hue_shift_limit": 10, "sat_shift_limit": 20, "val_shift_limit": 10, "p": 0.5},
        {"transform": "GaussianBlur", "blur_limit": [3, 5], "p": 0.3},
    ],
}
