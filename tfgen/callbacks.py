"""What a run writes while it trains, hooked into ``keras.Model.fit``.

:class:`EpochOutputs` is the one place that produces an epoch's artefacts, in
code order: scores, the finiteness check, the ``metrics.csv`` row, the sample
grid (and its TensorBoard image), the checkpoint; and at the end the GIF,
``loss.png`` and the SavedModel. :class:`StopOnSignal` stops training between
steps when asked to by a signal. Keras's own callbacks (progress bar,
TensorBoard scalars) run beside them.

They rely only on the model contract (``sample``, ``preview``,
``export_functions``, ``loss_names``), never on a model's internals.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import keras
import numpy as np
import tensorflow as tf

from tfgen import images, metrics, rundir
from tfgen.errors import NonFiniteLossError, TrainingStopped, warn
from tfgen.export import export_saved_model
from tfgen.files import write_text


# ----- stopping on a signal -----

class StopOnSignal(keras.callbacks.Callback):
    """Stops training at the next step boundary once :meth:`request` was called (from a signal handler).

    The check runs between steps and at an epoch's start, never while a file is
    being written: an epoch's PNG, metrics row and checkpoint are all written or
    none is. The unfinished epoch is redone from its start on ``--resume``.
    """

    def __init__(self):
        super().__init__()
        self.requested: int | None = None
        self.epoch = 0

    def request(self, signum: int) -> None:
        self.requested = signum

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self.epoch = epoch + 1
        self._check()

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        self._check()

    def on_test_batch_end(self, batch: int, logs=None) -> None:
        self._check()

    def _check(self) -> None:
        if self.requested is not None:
            raise TrainingStopped(self.requested, self.epoch)


@contextlib.contextmanager
def stop_on_signals(stop: StopOnSignal) -> Iterator[None]:
    """While training, SIGINT (Ctrl-C) and SIGTERM ask ``stop`` to end training at the next step boundary.

    A second signal interrupts at once (KeyboardInterrupt). Outside the main
    thread, where Python cannot take signals, nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.getsignal(s) for s in signals}

    def handler(signum, frame):
        if stop.requested is not None:
            raise KeyboardInterrupt
        stop.request(signum)
        print(f"\ntfgen: {signal.Signals(signum).name}: stopping after the current step "
              "(send it again to stop at once)", file=sys.stderr, flush=True)

    for s in signals:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


# ----- scores added to an epoch's logs -----

class ModeCoverage:
    """``modes_covered`` and ``high_quality`` of 10,000 generated points, every epoch.

    For point sets made of Gaussian modes (``ring``, ``grid``); the noise batch
    is fixed, so the numbers are comparable from epoch to epoch.
    """

    names = ("modes_covered", "high_quality")
    every_epoch = True

    def __init__(self, modes: np.ndarray, std: float, z: np.ndarray):
        self.modes, self.std, self.z = modes, std, z

    def __call__(self, model, epoch: int) -> dict[str, float]:
        return metrics.mode_coverage(np.asarray(model.sample(self.z)), self.modes, self.std)


class SampleScores:
    """The classifier scores of a fixed batch of samples, every ``every`` epochs and after the last.

    ``score`` maps (samples, labels) to a dict of numbers
    (``tfgen.evaluation.sample_scores`` bound to the classifier and the real
    images). Epochs in between leave the columns blank in ``metrics.csv``.
    """

    every_epoch = False

    def __init__(self, every: int, epochs: int, z: np.ndarray, labels: np.ndarray | None, score: Callable):
        self.every, self.epochs, self.z, self.labels, self.score = every, epochs, z, labels, score
        self.names = ("frechet_distance", "frechet_distance_se", "kernel_distance", "kernel_distance_se",
                      "classifier_score", "real_classifier_score",
                      "class_coverage") + (("label_accuracy",) if labels is not None else ())

    def __call__(self, model, epoch: int) -> dict[str, float]:
        if epoch % self.every and epoch != self.epochs:
            return {}
        samples = np.asarray(model.sample(self.z, *(() if self.labels is None else (self.labels,))))
        scores = self.score(samples, self.labels)
        return {name: scores[name] for name in self.names if scores[name] is not None}  # None: left blank


# ----- metrics.csv -----

class MetricsCSV:
    """``metrics.csv``: one row per finished epoch, its columns declared before the first epoch.

    Columns: ``epoch`` (1-based, matching the grid PNG of that epoch), the
    training loss terms and every-epoch scores, the loss terms on the test set
    prefixed ``test_``, ``seconds`` (the whole epoch, test pass included),
    ``images_per_s`` (training images over the training part of the epoch),
    then the periodic scores (blank in the epochs without them). Keras's
    CSVLogger is not used because it names test columns ``val_``, counts epochs
    from 0 and cannot drop the rows a resumed run redoes.

    A resumed run's rows are made to agree with its checkpoint before
    (``tfgen.rundir.reconcile``); columns it adds are appended here, once,
    before training (blank in the finished rows).
    """

    def __init__(self, out: Path, columns: Sequence[str]):
        self.path = rundir.RunDir(out).metrics
        header = rundir.metrics_header(out)
        self.columns = header + [c for c in columns if c not in header]
        if header and self.columns != header:
            write_text(self.path, self._header() + "".join(self._line(r) for r in rundir.read_metrics(out)))
        self.has_header = bool(header)

    def append(self, row: dict[str, Any]) -> None:
        with open(self.path, "a", newline="") as f:
            f.write(("" if self.has_header else self._header()) + self._line(row))  # one write per row
        self.has_header = True

    def _header(self) -> str:
        return ",".join(self.columns) + "\n"

    def _line(self, row: dict[str, Any]) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([row.get(c, "") for c in self.columns])
        return buf.getvalue()


# ----- everything an epoch writes -----

class EpochOutputs(keras.callbacks.Callback):
    """Writes each finished epoch's artefacts into ``out``, in this order, and the run's final outputs.

    1. scores (``scorers``), added to the epoch's logs (so the progress bar
       shows them too);
    2. the finiteness check: a NaN or infinite value raises
       :class:`~tfgen.errors.NonFiniteLossError` before anything of the epoch
       is written, so the last good checkpoint stays the newest;
    3. the ``metrics.csv`` row (and, with ``tensorboard``, the same values as TensorBoard
       scalars ``epoch_NAME`` under ``tensorboard/train`` and ``tensorboard/validation``);
    4. the sample grid ``images/epoch_NNNN.png`` (and its TensorBoard image under ``tensorboard/samples``);
    5. the checkpoint: a checkpoint N means everything above of epoch N is on disk.

    A fresh run also writes the untrained model's grid as epoch 0. At the end
    of training: ``progress.gif``, ``loss.png`` and ``saved_model/``.
    """

    def __init__(self, out: Path, *, picture: Callable, scorers: Sequence, loss_names: Sequence[str],
                 checkpoints: rundir.Checkpoints, num_train: int, initial_epoch: int, epochs: int,
                 tensorboard: bool = False, say: Callable[[str], None] = print):
        super().__init__()
        self.out, self.picture, self.scorers, self.checkpoints = out, picture, list(scorers), checkpoints
        self.num_train, self.initial_epoch, self.epochs, self.say = num_train, initial_epoch, epochs, say
        scores = [n for s in self.scorers if s.every_epoch for n in s.names]
        periodic = [n for s in self.scorers if not s.every_epoch for n in s.names]
        columns = ["epoch", *loss_names, *scores, *(f"test_{n}" for n in loss_names), "seconds", "images_per_s",
                   *periodic]
        self.csv = MetricsCSV(out, columns)
        self.layout = rundir.RunDir(out)
        self.writers = {part: tf.summary.create_file_writer(str(self.layout.tensorboard / part))
                        for part in ("train", "validation", "samples")} if tensorboard else None

    def on_train_begin(self, logs=None) -> None:
        if self.initial_epoch == 0:
            self.write_picture(0)

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self.epoch_start = time.perf_counter()
        self.train_end: float | None = None

    def on_test_begin(self, logs=None) -> None:
        if self.train_end is None:
            self.train_end = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        epoch += 1
        logs = logs if logs is not None else {}
        for scorer in self.scorers:
            logs.update(scorer(self.model, epoch))
        for name in sorted(logs, key=lambda n: n != "loss"):  # name the loss itself when it is one
            if not math.isfinite(float(logs[name])):
                raise NonFiniteLossError(epoch, name, float(logs[name]))
        now = time.perf_counter()
        row: dict[str, Any] = {"epoch": epoch}
        row.update({name: f"{float(value):.7g}" for name, value in logs.items() if not name.startswith("val_")})
        row.update({f"test_{name[4:]}": f"{float(value):.7g}" for name, value in logs.items()
                    if name.startswith("val_")})
        row["seconds"] = round(now - self.epoch_start, 3)
        row["images_per_s"] = round(self.num_train / ((self.train_end or now) - self.epoch_start), 1)
        self.csv.append(row)
        if self.writers is not None:  # Keras's TensorBoard layout: step = the epoch counted from 0
            for name, value in logs.items():
                part, tag = ("validation", name[4:]) if name.startswith("val_") else ("train", name)
                with self.writers[part].as_default():
                    tf.summary.scalar(f"epoch_{tag}", float(value), step=epoch - 1)
            self.writers["train"].flush()
            self.writers["validation"].flush()
        self.write_picture(epoch)
        self.checkpoints.save(epoch)

    def write_picture(self, epoch: int) -> None:
        picture = self.picture(self.model, epoch)
        images.write_png(self.layout.grid(epoch), picture)
        if self.writers is not None:
            with self.writers["samples"].as_default():
                tf.summary.image("samples", (picture[..., None] if picture.ndim == 2 else picture)[None], step=epoch)
            self.writers["samples"].flush()

    def on_train_end(self, logs=None) -> None:
        gif = self.layout.gif
        pngs = [self.layout.grid(e) for e in range(self.epochs + 1)]
        lost = [str(e) for e, png in enumerate(pngs) if not png.is_file()]
        if lost:  # reported when the run was resumed: grids whose weights were gone
            warn(f"the GIF leaves out the missing grid(s) of epoch {', '.join(lost)}")
        frames = images.write_gif(gif, [png for png in pngs if png.is_file()])
        plot_losses(rundir.read_metrics(self.out), self.layout.loss_plot)
        export_saved_model(self.model, self.layout.saved_model)
        self.say(f"wrote {gif} ({frames} frames), loss.png and saved_model/")


def plot_losses(rows: list[dict[str, str]], path: Path) -> None:
    """One panel per metrics.csv column: training (and test) value per epoch; periodic scores as points."""
    from matplotlib.ticker import MaxNLocator

    if not rows:
        return
    epochs = [int(r["epoch"]) for r in rows]
    terms = [c for c in rows[0] if c not in ("epoch", "seconds", "images_per_s") and not c.startswith("test_")]

    def series(column: str) -> tuple[list[int], list[float]]:  # blank cells: epochs without that score
        kept = [(e, float(r[column])) for e, r in zip(epochs, rows) if r.get(column)]
        return [e for e, _ in kept], [v for _, v in kept]

    cols = min(len(terms), 4)
    rows_ = math.ceil(len(terms) / cols)
    fig, axes = images.pyplot().subplots(rows_, cols, figsize=(3.2 * cols, 3 * rows_), squeeze=False)
    for ax in axes.ravel()[len(terms):]:
        ax.set_visible(False)
    for ax, term in zip(axes.ravel(), terms):
        xs, ys = series(term)
        ax.plot(xs, ys, label="train", marker="." if len(xs) < len(epochs) else None)
        if f"test_{term}" in rows[0]:
            ax.plot(*series(f"test_{term}"), label="test")
            ax.legend()
        ax.set_title(term)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    images.save_figure(fig, path)
