"""Export to a plain TensorFlow SavedModel, loadable without tfgen."""

from __future__ import annotations

from pathlib import Path

import keras

from tfgen.files import atomic_path
from tfgen.precision import policy


def export_saved_model(model: keras.Model, path: Path, functions: dict | None = None) -> None:
    """Writes ``functions`` (default: the model's ``export_functions()``) as SavedModel signatures.

    Each function becomes a ``tf.function`` with a fixed input signature and a
    serving signature of the same name whose outputs are the function's dict
    keys; the Python model class is not part of the export. A model trained in
    mixed precision is exported from a float32 copy (:func:`float32_copy`), so
    the SavedModel computes in float32 on any device.
    """
    if functions is None:
        model = float32_copy(model)
        functions = model.export_functions()
    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, (fn, signature) in functions.items():
        archive.add_endpoint(name, checked_inputs(name, fn, signature), input_signature=signature)
    with atomic_path(path) as tmp:
        archive.write_out(str(tmp), verbose=False)


def float32_copy(model: keras.Model) -> keras.Model:
    """``model`` itself when it computes in float32, else the same model built in float32 with its weights.

    Mixed precision keeps every weight in float32, so the copy is exact.
    """
    if model.dtype_policy.name == "float32":
        return model
    with policy("float32"):
        copy = type(model)(**model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def checked_inputs(name: str, fn, signature: list):
    """``fn``, first checking each input's rank and fixed sizes against its spec, before any kernel runs.

    A SavedModel's signatures do not check the shapes their callers feed, and
    a wrong one can crash the caller's process inside a kernel; this fails with
    an error naming the function, the input, the shape it must have and the one it got. Float inputs must be
    finite: NaN codes or images would come out as normal-looking images and codes.
    """
    import tensorflow as tf

    def shape_text(spec) -> str:
        return "[" + ", ".join("N" if d is None else str(d) for d in spec.shape) + "]"

    def checked(*args):
        checks = []
        for spec, value in zip(signature, args):
            shape = tf.shape(value)
            padded = tf.pad(shape, [[0, len(spec.shape)]])  # so a lower rank still has every axis to compare
            ok = tf.equal(tf.size(shape), len(spec.shape))
            for axis, size in enumerate(spec.shape):
                if size is not None:
                    ok = tf.logical_and(ok, tf.equal(padded[axis], size))
            checks.append(tf.debugging.Assert(ok, [f"{name}: {spec.name} must have shape {shape_text(spec)}; got",
                                                   shape], summarize=8))
            if spec.dtype.is_floating:  # NaN or infinity would pass through the networks as normal-looking output
                checks.append(tf.debugging.Assert(tf.reduce_all(tf.math.is_finite(value)),
                                                  [f"{name}: {spec.name} must be finite (no NaN or infinity)"]))
        with tf.control_dependencies(checks):
            return fn(*(tf.identity(value) for value in args))

    return checked
