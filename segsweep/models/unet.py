"""U-Net (Ronneberger et al. 2015) in U-Net++ notation.

The decoder is the diagonal X^{i,D-1-i} of the U-Net++ grid: each decoder node concatenates only
the encoder node of its level (the plain skip connection) with the up-sampled node below it.
Written this way, U-Net and U-Net++ differ in exactly the nodes and skips the papers say.
"""

from __future__ import annotations

import keras

from segsweep.models.blocks import ConvUnit, decoder_node, encoder, output_head


def unet(image: keras.KerasTensor, filters: list[int], H: ConvUnit, classes: int = 1) -> keras.KerasTensor:
    """The output head `head` on X^{0,D-1}, for D = len(filters) levels."""
    D = len(filters)
    X = [{0: x} for x in encoder(image, filters, H)]
    for i in reversed(range(D - 1)):
        j = D - 1 - i
        X[i][j] = decoder_node([X[i][0]], X[i + 1][j - 1], filters[i], H, i, j)
    return output_head(X[0][D - 1], "head", classes)
