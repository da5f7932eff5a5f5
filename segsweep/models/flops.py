"""Analytic forward-pass FLOPs, for images-per-second vs FLOPs in the performance benchmark and
the training cost that metrics.json reports.

Counts 2 x the multiply-adds of Conv2D, Conv2DTranspose, DepthwiseConv2D and SeparableConv2D
layers, which dominate the cost; biases, batch norm, activations, pooling, attention products
and concatenation are left out. Each output pixel of a convolution multiplies the whole kernel
once (a separable one its depthwise and then its pointwise kernel); for a transposed convolution
each input pixel does. Only the layers a model contains are counted, so a pruned model costs
less; a model nested as a layer (a user's pretrained encoder) is counted layer by layer.
"""

from __future__ import annotations

import math

import keras


def _pixels(shape: tuple) -> int:
    height, width = shape[1:3]
    if height is None or width is None:
        raise ValueError("forward_flops needs a model built with a fixed input height and width")
    return height * width


def forward_flops(model: keras.Model) -> int:
    """FLOPs of one image's forward pass at the model's input size."""
    flops = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            flops += forward_flops(layer)
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            flops += 2 * _pixels(layer.input.shape) * math.prod(layer.kernel.shape)
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
            flops += 2 * _pixels(layer.output.shape) * math.prod(layer.kernel.shape)
        elif isinstance(layer, keras.layers.SeparableConv2D):
            kernels = math.prod(layer.depthwise_kernel.shape) + math.prod(layer.pointwise_kernel.shape)
            flops += 2 * _pixels(layer.output.shape) * kernels
    return flops


def training_flops(model: keras.Model) -> int:
    """FLOPs of training on one image at the model's input size: 3 x the forward pass.

    The usual estimate (e.g. Kaplan et al. 2020): the backward pass computes the gradients with
    respect to both the activations and the weights, each about one forward pass of work. The
    optimizer's update, per weight rather than per pixel, is left out.
    """
    return 3 * forward_flops(model)
