"""Export to a plain TensorFlow SavedModel, loadable without tfgen."""

from __future__ import annotations

from pathlib import Path

import keras

from tfgen.files import atomic_path


def export_saved_model(model: keras.Model, path: Path, functions: dict | None = None) -> None:
    """Writes ``functions`` (default: the model's ``export_functions()``) as SavedModel signatures.

    Each function becomes a ``tf.function`` with a fixed input signature and a
    serving signature of the same name whose outputs are the function's dict
    keys; the Python model class is not part of the export.
    """
    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, (fn, signature) in (functions or model.export_functions()).items():
        archive.add_endpoint(name, fn, input_signature=signature)
    with atomic_path(path) as tmp:
        archive.write_out(str(tmp), verbose=False)
