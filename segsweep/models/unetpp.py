"""U-Net++ (Zhou et al. 2018): nested, densely skipped decoder nodes with deep supervision.

For j > 0, X^{i,j} = H([X^{i,0}, ..., X^{i,j-1}, U(X^{i+1,j-1})]). Columns are built left to
right, so X^{i+1,j-1} always exists when X^{i,j} needs it. With deep supervision every X^{0,j}
gets its own head, which is what lets the trained model be pruned to U-Net++ L_j (see
`segsweep.models.inference`).
"""

from __future__ import annotations

import keras

from segsweep.models.blocks import ConvUnit, decoder_node, encoder, output_head


def unetpp(
    image: keras.KerasTensor, filters: list[int], H: ConvUnit, deep_supervision: bool, classes: int = 1
) -> list[keras.KerasTensor]:
    """Heads `head_1`..`head_{D-1}` on X^{0,1..D-1}, or only `head` on X^{0,D-1} without supervision."""
    D = len(filters)
    X = [[x] for x in encoder(image, filters, H)]
    for j in range(1, D):
        for i in range(D - j):
            X[i].append(decoder_node(X[i][:j], X[i + 1][j - 1], filters[i], H, i, j))
    if deep_supervision:
        return [output_head(X[0][j], f"head_{j}", classes) for j in range(1, D)]
    return [output_head(X[0][D - 1], "head", classes)]
