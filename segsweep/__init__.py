"""segsweep: a reproducible U-Net vs U-Net++ road-segmentation sweep (KITTI layout)."""

import os

# TensorFlow's C++ start-up chatter (oneDNN, CUDA probing) buries the one line per epoch that
# job logs are for; warnings and errors still show. A user's own setting wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
