"""segsweep: a reproducible U-Net vs U-Net++ road-segmentation sweep (KITTI layout)."""

__version__ = "0.1.0"
