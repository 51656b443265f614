"""Export to a plain TensorFlow SavedModel, loadable without tfgen."""

from __future__ import annotations

from pathlib import Path

import keras

from tfgen.files import atomic_path


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
        archive.add_endpoint(name, fn, input_signature=signature)
    with atomic_path(path) as tmp:
        archive.write_out(str(tmp), verbose=False)


def float32_copy(model: keras.Model) -> keras.Model:
    """``model`` itself when it computes in float32, else the same model built in float32 with its weights.

    Mixed precision keeps every weight in float32, so the copy is exact.
    """
    from tfgen.precision import policy

    if model.dtype_policy.name == "float32":
        return model
    with policy("float32"):
        copy = type(model)(**model.get_config())
    copy.set_weights(model.get_weights())
    return copy
