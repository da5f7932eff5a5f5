"""The seed notebook's input pipeline, fixed just enough to run: the baseline we must beat.

A `keras.utils.PyDataset` (Keras 3's `Sequence`) that reads every PNG with `skimage.io.imread`
and applies albumentations per item on every epoch, with one worker as in the notebook's
`fit_generator` call. Its bugs (undefined `output_path`, `return` inside the loop, pairing by sort
order) are repaired so that it measures the design, not the bugs.
"""

from __future__ import annotations

import math

import keras
import numpy as np


class SeedStyleSequence(keras.utils.PyDataset):
    def __init__(self, pairs: list[tuple[str, str]], batch_size: int, transform, positive_ids: list[int]):
        super().__init__(workers=1, use_multiprocessing=False)
        self.pairs = pairs
        self.batch_size = batch_size
        self.transform = transform
        self.positive_ids = positive_ids
        self.order = np.arange(len(pairs))

    def __len__(self) -> int:
        return math.ceil(len(self.pairs) / self.batch_size)

    def __getitem__(self, index: int):
        from skimage.io import imread

        images, masks = [], []
        for i in self.order[index * self.batch_size : (index + 1) * self.batch_size]:
            image_path, label_path = self.pairs[i]
            label = np.isin(imread(label_path), self.positive_ids).astype(np.uint8)
            out = self.transform(image=imread(image_path), mask=label)
            images.append(out["image"] / 255.0)
            # (road, valid) channels: the layout segsweep's loss reads; the seed had no void pixels.
            masks.append(np.stack([out["mask"], np.ones_like(out["mask"])], axis=-1).astype("float32"))
        return np.stack(images).astype("float32"), np.stack(masks)

    def on_epoch_end(self) -> None:
        np.random.shuffle(self.order)
