"""Gradient sums in a fixed order, so that same-seed CPU runs of U-Net++ are bitwise identical.

Where a tensor feeds several layers, TensorFlow's gradient tape adds the layers' gradient
contributions with one ``AddN``. On the CPU, ``AddN`` accumulates into the buffer of an input it
may reuse, and to do so swaps that input to the front: with three or more inputs the additions
then run in another order, ``(g2 + g1) + g0`` instead of ``(g0 + g1) + g2``, which differs in the
last bits. Whether a buffer can be reused is decided at run time, and the decision differed
between processes (not between calls within one), with one thread and op determinism on:
TensorFlow 2.21's op determinism does not cover it. U-Net++ has such tensors everywhere (X^{0,1}
feeds X^{0,2}, X^{0,3}, X^{0,4} and a head), U-Net has none: every U-Net tensor feeds at most two
layers, and a two-term sum is the same in either order. Measured at base 8, 144x192 (issue 14):
the gradients of one step differed in 42 of 118 weights between processes, only in the nodes
whose output feeds three or more layers and the nodes before them; a CamVid run's loss differed
from the first epoch.

`sum_gradients_in_fixed_order` makes three or more contributions add up as one ``reduce_sum``
over their stack, in the order the tape lists them; one or two go through TensorFlow's own sum.
A chain of two-input ``tf.add`` instead still varied between processes (Grappler's arithmetic
optimizer merges chains of adds into one ``AddN``). The cost is one copy of the contributions.
"""

from __future__ import annotations

from collections.abc import Callable

# The tape's aggregation hook is not public API: `sum_gradients_in_fixed_order` checks that it is there.
_HOOK = ("tensorflow.python.eager.backprop", "_default_vspace")


def _fixed_order_sum(default: Callable) -> Callable:
    import tensorflow as tf

    def aggregate(gradients: list):
        if len(gradients) < 3 or not all(isinstance(g, tf.Tensor) for g in gradients):
            return default(gradients)  # IndexedSlices (embeddings) keep TensorFlow's own handling
        return tf.reduce_sum(tf.stack(gradients), axis=0)

    aggregate.segsweep_fixed_order = True
    return aggregate


def sum_gradients_in_fixed_order() -> bool:
    """Register the fixed-order sum with the gradient tape of this process; False if this TF lacks the hook."""
    import importlib

    try:
        backprop = importlib.import_module(_HOOK[0])
        from tensorflow.python import pywrap_tfe

        vspace = getattr(backprop, _HOOK[1])
        register = pywrap_tfe.TFE_Py_RegisterVSpace
    except (ImportError, AttributeError):
        return False
    if not getattr(vspace.aggregate_fn, "segsweep_fixed_order", False):
        vspace = vspace._replace(aggregate_fn=_fixed_order_sum(vspace.aggregate_fn))
        setattr(backprop, _HOOK[1], vspace)
        register(vspace)
    return True
