"""The run directory: its layout, the checks before a run writes into it, and its checkpoints.

Every path of a run is named here, and the checkpoint layout (what a
checkpoint holds, how it is named, how the newest readable one is found) is
the :class:`Checkpoints` class, used both by training, which writes them, and
by everything that reads a run back.

    RUN_DIR/config.json            the resolved configuration, the data used, versions
    RUN_DIR/metrics.csv            one row per finished epoch
    RUN_DIR/images/epoch_NNNN.png  the sample grid after epoch N (0: untrained)
    RUN_DIR/progress.gif, loss.png at the end of training
    RUN_DIR/checkpoints/ckpt-N.*   model, optimizers and epoch count after epoch N (the last two)
    RUN_DIR/saved_model/           the SavedModel
    RUN_DIR/tensorboard/           with --tensorboard
    RUN_DIR/evaluation.json        written by ``tfgen evaluate``
    RUN_DIR/explore/               written by ``tfgen explore``
    RUN_DIR/.lock                  locked while a process trains the run (see RunLock)
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from tfgen.errors import BadInputError, warn
from tfgen.files import remove, write_text

CHECKPOINT_PREFIX = "ckpt"
LOCK_FILE = ".lock"


class RunDirError(BadInputError):
    """The run directory cannot be used as asked; the message says why and what to do."""


class NotARunError(BadInputError):
    """The folder is not a tfgen run, or has no finished epoch to load."""


class UnreadableCheckpointError(BadInputError):
    """Every checkpoint of a run is unreadable."""


# ----- layout -----

@dataclasses.dataclass(frozen=True)
class RunDir:
    """The layout of a run directory: every path of a run, named once, for the code that writes it and the code
    that reads it back."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @property
    def config(self) -> Path:
        return self.path / "config.json"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def images(self) -> Path:
        return self.path / "images"

    def grid(self, epoch: int) -> Path:
        """The stable, zero-padded name of an epoch's sample grid."""
        return self.images / f"epoch_{epoch:04d}.png"

    @property
    def gif(self) -> Path:
        return self.path / "progress.gif"

    @property
    def loss_plot(self) -> Path:
        return self.path / "loss.png"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def saved_model(self) -> Path:
        return self.path / "saved_model"

    @property
    def tensorboard(self) -> Path:
        return self.path / "tensorboard"

    @property
    def evaluation(self) -> Path:
        return self.path / "evaluation.json"

    @property
    def explore(self) -> Path:
        return self.path / "explore"

    @property
    def lock(self) -> Path:
        return self.path / LOCK_FILE


# ----- before a run writes -----

def check_for_training(run_dir: Path, resume: bool, overwrite: bool) -> bool:
    """Decides what to do with ``--out`` before anything is built.

    A folder holding only what a run writes before its config.json (a run
    killed while it was being created) counts as a run that never started:
    ``--overwrite`` replaces it.

    Returns:
        True when an existing run is to be resumed.

    Raises:
        RunDirError: ``--resume`` without a run; a run and neither flag; a
            folder that is not a tfgen run directory and is not empty.
    """
    if resume and overwrite:
        raise RunDirError("--resume and --overwrite exclude each other; pass one")
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"--out {run_dir} is a file, not a directory")
    if RunDir(run_dir).config.is_file():
        if not (resume or overwrite):
            raise RunDirError(
                f"--out {run_dir} already holds a run; pass --resume to continue it (--resume --epochs N trains it "
                "to N epochs in all) or --overwrite to replace it"
            )
        return resume
    if resume:
        raise RunDirError(f"--resume: --out {run_dir} holds no run to resume (no config.json); "
                          "leave out --resume to start a new run there")
    contents = [p for p in run_dir.iterdir() if p.name != LOCK_FILE] if run_dir.is_dir() else []
    if contents and not is_unstarted(contents):
        raise RunDirError(f"--out {run_dir} is not empty and is not a tfgen run (no config.json); choose another --out")
    if contents and not overwrite:
        raise RunDirError(f"--out {run_dir} holds a run that was stopped before it started (no config.json); "
                          "pass --overwrite to start it afresh")
    return False


def is_unstarted(contents: list[Path]) -> bool:
    """Whether a folder's ``contents`` are only what a run writes before its config.json."""
    pngs = [f for folder in contents if folder.is_dir() for f in folder.iterdir()]
    return all(p.name in ("images", ".config.tmp.json") for p in contents) and \
        all(f.name.startswith(("epoch_", ".epoch_")) for f in pngs)


def clear(run_dir: Path) -> None:
    """Deletes everything in a run directory but its lock (``--overwrite``)."""
    for path in run_dir.iterdir():
        if path.name != LOCK_FILE:
            remove(path)


def in_use(run_dir: Path, holder: str) -> RunDirError:
    return RunDirError(f"--out {run_dir} is in use by another tfgen process (pid {holder}); wait for it to end or "
                       "choose another --out")


class RunLock:
    """An exclusive OS lock (``fcntl.flock``) on a run directory, held while a process trains into it.

    The lock is on ``RUN_DIR/.lock``, which also names the holder's pid. It is
    taken before anything of the run is written and released when training
    ends; a killed holder's lock dies with it. The file itself stays: deleting
    it could let two processes each lock a different file.
    """

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.created = not run_dir.exists()  # the directory itself
        self.created_file = self.created or not (RunDir(run_dir).lock).exists()  # at least the lock file
        self.file = None

    def acquire(self) -> "RunLock":
        """Takes the lock, creating the directory if needed.

        Raises:
            RunDirError: another process holds it (naming its pid), or the directory cannot be created.
        """
        import fcntl

        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.file = open(RunDir(self.run_dir).lock, "a+")
        except OSError as e:
            raise RunDirError(f"cannot create or write to the run directory {self.run_dir}: {e}") from None
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.file.seek(0)
            holder = self.file.read().strip() or "unknown"
            self.file.close()
            self.file = None
            raise in_use(self.run_dir, holder) from None
        self.file.seek(0)
        self.file.truncate()
        self.file.write(f"{os.getpid()}\n")
        self.file.flush()
        return self

    @staticmethod
    def check_free(run_dir: Path) -> None:
        """Raises the "in use" RunDirError when another process holds ``run_dir``'s lock; creates nothing."""
        import fcntl

        try:
            with open(RunDir(run_dir).lock) as file:
                try:
                    fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    raise in_use(run_dir, file.read().strip() or "unknown") from None
        except (FileNotFoundError, NotADirectoryError):
            return

    def release(self, refused: bool = False) -> None:
        """Releases the lock. ``refused``: the run never started, so what taking the lock created goes again."""
        if self.file is None:
            return
        self.file.close()  # closing the file releases the lock
        self.file = None
        if refused and self.created:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        elif refused and self.created_file:
            (RunDir(self.run_dir).lock).unlink(missing_ok=True)


def create(run_dir: Path) -> None:
    """Creates the run directory and checks that it can be written to, not only that it exists.

    Raises:
        RunDirError: it cannot be created or written to.
    """
    try:
        RunDir(run_dir).images.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=RunDir(run_dir).images) as probe:  # some bytes: a full disk fails here too
            probe.write(b"\0" * 65536)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as e:
        raise RunDirError(f"cannot create or write to the run directory {run_dir}: {e}") from None


def write_config(run_dir: Path, doc: dict[str, Any]) -> None:
    """Writes config.json (atomically)."""
    write_text(RunDir(run_dir).config, json.dumps(doc, indent=2) + "\n")


# ----- reading a run back -----

def read_config(run_dir: Path) -> dict[str, Any]:
    """The whole config.json of a run.

    Raises:
        NotARunError: there is none.
    """
    path = RunDir(run_dir).config
    if not path.is_file():
        raise NotARunError(f"{run_dir} is not a tfgen run directory (no config.json)")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise NotARunError(f"cannot read the run configuration {path}: {e}") from None


def metrics_header(run_dir: Path) -> list[str]:
    """The columns of a run's metrics.csv, or [] when there is none yet."""
    try:
        with open(RunDir(run_dir).metrics, newline="") as f:
            return next(csv.reader(f), [])
    except FileNotFoundError:
        return []


def read_metrics(run_dir: Path) -> list[dict[str, str]]:
    """The rows of a run's metrics.csv as text, or [] when there is none yet."""
    path = RunDir(run_dir).metrics
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def reconcile(run_dir: Path, epoch: int, repair: bool = True) -> tuple[list[str], list[int]]:
    """Makes a resumed run's ``metrics.csv`` and ``images/`` agree with its restored checkpoint of ``epoch``.

    With ``repair=False`` it only refuses what cannot be repaired, changing nothing.

    Drops metrics rows torn by a crash, after ``epoch`` or repeated (the last
    of each epoch is kept), and grids after ``epoch`` or unreadable. The grid of
    ``epoch`` itself can be drawn again from the checkpoint; older grids cannot
    (their weights are gone) and are left out of the GIF.

    Returns:
        What was repaired (a phrase each) and the epochs whose grid must be redrawn.

    Raises:
        RunDirError: what cannot be repaired: an unreadable metrics.csv, or epochs up to ``epoch`` without a row.
    """
    repairs = _reconcile_metrics(run_dir, epoch, repair)
    if not repair:
        return [], []
    grid_repairs, redraw = _reconcile_grids(run_dir, epoch)
    return repairs + grid_repairs, redraw


def _reconcile_metrics(run_dir: Path, epoch: int, repair: bool) -> list[str]:
    """:func:`reconcile` for metrics.csv: what it repaired (nothing when not ``repair``)."""
    repairs: list[str] = []
    path = RunDir(run_dir).metrics
    try:
        with open(path, newline="") as f:
            lines = list(csv.reader(f))
    except FileNotFoundError:
        lines = []
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise RunDirError(f"cannot resume {run_dir}: its metrics.csv is unreadable ({e}); start again with "
                          "--overwrite") from None
    if lines and "epoch" not in lines[0]:
        raise RunDirError(f"cannot resume {run_dir}: its metrics.csv has no epoch column; start again with --overwrite")
    header, rows, torn, later, repeated = (lines[0] if lines else []), {}, 0, [], []
    for line in lines[1:]:
        number = line[header.index("epoch")] if len(line) == len(header) else ""
        if not number.isdigit():
            torn += 1
        elif int(number) > epoch:
            later.append(int(number))
        else:
            if int(number) in rows:
                repeated.append(int(number))
            rows[int(number)] = line
    missing = [e for e in range(1, epoch + 1) if e not in rows]
    if missing:
        raise RunDirError(f"cannot resume {run_dir}: its checkpoint has finished {epoch} epochs but metrics.csv has "
                          f"no row for epoch {', '.join(map(str, missing))}, which cannot be redone; start again with "
                          "--overwrite")
    if not repair:
        return []
    if torn or later or repeated:
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows([header, *(rows[e] for e in sorted(rows))])
        write_text(path, text.getvalue())
        repairs += [f"dropped {torn} metrics.csv row(s) torn by a crash"] if torn else []
        repairs += [f"dropped the metrics.csv row(s) of epoch {_numbers(later)}, after the checkpoint"] if later else []
        repairs += [f"dropped repeated metrics.csv row(s) of epoch {_numbers(repeated)}"] if repeated else []
    return repairs


def _reconcile_grids(run_dir: Path, epoch: int) -> tuple[list[str], list[int]]:
    """:func:`reconcile` for images/: what it repaired, and the epochs whose grid must be redrawn."""
    from tfgen.images import read_png  # PIL: imported when a run is resumed, not by `import tfgen`

    repairs: list[str] = []
    after = sorted(int(p.stem[6:]) for p in RunDir(run_dir).images.glob("epoch_*.png")
                   if p.stem[6:].isdigit() and int(p.stem[6:]) > epoch)
    for e in after:
        RunDir(run_dir).grid(e).unlink()
    repairs += [f"deleted the grid(s) of epoch {_numbers(after)}, after the checkpoint"] if after else []
    redraw, lost = [], []
    for e in range(epoch + 1):
        png = RunDir(run_dir).grid(e)
        try:
            read_png(png)
            continue
        except (OSError, ValueError, SyntaxError):  # missing, truncated or not a PNG
            png.unlink(missing_ok=True)
        (redraw if e == epoch else lost).append(e)
    repairs += [f"redrew the grid of epoch {epoch} from its checkpoint"] if redraw else []
    repairs += [f"the grid(s) of epoch {_numbers(lost)} were missing or unreadable and cannot be redrawn (their "
                "weights are gone): the GIF leaves them out"] if lost else []
    return repairs, redraw


def _numbers(epochs: list[int]) -> str:
    return ", ".join(str(e) for e in sorted(set(epochs)))


class Checkpoints:
    """A run's ``checkpoints/`` folder: the model, its optimizers, its random-generator state and the epoch count.

    A checkpoint numbered N is saved after everything else of epoch N is on
    disk (its grid and metrics row), so ``--resume`` continues at N + 1. The
    last ``max_to_keep`` are kept, so an unreadable newest one (a crash or a
    full disk mid-write) falls back to the one before. Checkpoints are found
    by their files (``ckpt-N.index``), not through TensorFlow's index file
    ``checkpoints/checkpoint``, which a crash can leave missing or unreadable;
    :meth:`tidy` repairs that file when the run is next opened to train.
    """

    def __init__(self, directory: Path, model, optimizers: dict | None = None, max_to_keep: int = 2):
        import tensorflow as tf

        self.directory = Path(directory)
        self.max_to_keep = max_to_keep
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        # The model's seeded generator (noise, reparameterisation, random labels) is not tracked by the model.
        self.checkpoint = tf.train.Checkpoint(model=model, epoch=self.epoch, rng=model.seed_generator.state,
                                              **(optimizers or {}))
        # Checkpoints written before the generator's state was saved.
        self.without_rng = tf.train.Checkpoint(model=model, epoch=self.epoch, **(optimizers or {}))
        self.manager = None

    @staticmethod
    def found(directory: Path) -> list[tuple[int, str]]:
        """(epoch, path prefix) of every checkpoint in ``directory``, oldest first, found by its files."""
        found = []
        for index in Path(directory).glob(f"{CHECKPOINT_PREFIX}-*.index"):
            number = index.name[len(CHECKPOINT_PREFIX) + 1:-len(".index")]
            if number.isdigit():
                found.append((int(number), str(index.with_suffix(""))))
        return sorted(found)

    @classmethod
    def latest(cls, directory: Path) -> str | None:
        """The newest checkpoint's path prefix in ``directory``, or None."""
        found = cls.found(directory)
        return found[-1][1] if found else None

    @classmethod
    def finished_epochs(cls, directory: Path) -> int:
        """Epochs finished by the newest checkpoint in ``directory``, read without building a model."""
        found = cls.found(directory)
        return found[-1][0] if found else 0

    def save(self, epoch: int) -> None:
        """Saves the state after ``epoch`` (1-based) finished."""
        if self.manager is None:
            self.manager = self._manager()
        self.epoch.assign(epoch)
        self.manager.save(checkpoint_number=epoch)

    def tidy(self) -> None:
        """Readies the folder for writing, when a run is opened to train (even with nothing left to train): removes
        what a save killed midway left (TensorFlow's ``ckpt-N_temp`` folders) and rewrites a missing, empty or
        garbled index file from the checkpoints found."""
        for leftover in self.directory.glob(f"{CHECKPOINT_PREFIX}-*_temp*"):
            remove(leftover)
        self.manager = self._manager()

    def _manager(self):
        """TensorFlow's CheckpointManager for this folder, its index file first rewritten from the files found."""
        import tensorflow as tf

        found = [path for _, path in self.found(self.directory)]
        if found:
            try:
                listed = tf.train.get_checkpoint_state(str(self.directory))
            except ValueError:  # an empty or truncated index file
                listed = None
            if listed is None or [Path(p).name for p in listed.all_model_checkpoint_paths] != \
                    [Path(p).name for p in found]:
                # With their times, so that the manager deletes the old ones as it would have (max_to_keep).
                times = [Path(f"{path}.index").stat().st_mtime for path in found]
                names = [Path(path).name for path in found]  # relative: the run folder may be moved
                tf.compat.v1.train.update_checkpoint_state(str(self.directory), names[-1], names,
                                                           all_model_checkpoint_timestamps=times,
                                                           last_preserved_timestamp=min(times) - 1)
        return tf.train.CheckpointManager(self.checkpoint, str(self.directory), max_to_keep=self.max_to_keep,
                                          checkpoint_name=CHECKPOINT_PREFIX)

    def restore(self, directory: Path | None = None, partial: bool = False) -> int:
        """Restores the newest readable checkpoint, if any; returns the epochs it had finished.

        A checkpoint that cannot be read (truncated or corrupted by a crash or a
        full disk) is reported and the one before it is used.

        Args:
            directory: where to read from instead of this object's own folder
                (the other workers of a multi-worker run read the chief's).
            partial: the model alone is wanted (reading a run back, no optimizers).

        Raises:
            UnreadableCheckpointError: there are checkpoints and none can be read.
        """
        import tensorflow as tf

        problems = []
        for _, path in reversed(self.found(directory if directory is not None else self.directory)):
            try:
                saved_rng = any(name.startswith("rng/") for name, _ in tf.train.list_variables(path))
                status = (self.checkpoint if saved_rng else self.without_rng).restore(path)
                # Training: compile() has built every optimizer's slots, so they are restored, not created later.
                status.assert_existing_objects_matched()
                if partial:
                    status.expect_partial()
            except (tf.errors.OpError, AssertionError, ValueError, IndexError) as e:  # IndexError: a short read
                problem = str(e).strip().splitlines()[0][:200]
                problems.append(f"{path}: {problem}")
                warn(f"cannot read checkpoint {path} ({problem}); trying the one before")
                continue
            if not (saved_rng or partial):
                warn(f"{path} holds no random-generator state (written by an older tfgen); the resumed run draws "
                     "fresh noise, so it is close to, not exactly, an uninterrupted run")
            return int(self.epoch.numpy())
        if problems:
            raise UnreadableCheckpointError("no checkpoint can be read: " + "; ".join(problems))
        return 0
