"""One training run: a plan made before anything is built, then :func:`train`, which reads top to bottom.

Every check that can refuse the run (run directory, epochs, data) happens in
:func:`make_plan`, before the run directory is created or changed. The
difference between the chief and the other workers of a multi-worker cluster
is one choice made there: where this process writes (``Plan.out``). The chief
writes the run directory; the others do exactly the same work, whose
checkpoint and SavedModel writes are collective operations every worker must
join, into a scratch directory deleted at the end.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from tfgen import classifier as classifier_lib
from tfgen.data import Dataset, InputRange, to_float
from tfgen.data.prepare import pipelines as data_pipelines
from tfgen.data.prepare import prepare
from tfgen import distribute, footprint, precision, rundir
from tfgen.config import ConfigError, RunConfig
from tfgen.errors import ClusterLostError, DiskFullError, NonFiniteLossError, TrainingStopped, warn
from tfgen.version import __version__


@dataclasses.dataclass(frozen=True)
class Plan:
    """What this process trains, and where it reads and writes.

    Attributes:
        config: the resolved configuration.
        dataset: the training data (``train_size`` applied) and the test data.
        strategy: the ``tf.distribute`` strategy, made before anything else.
        task: this process's place in a multi-worker cluster, or None.
        run_dir: the run; a resumed run restores its newest checkpoint from here.
        out: where this process writes everything: ``run_dir``, or a scratch
            directory for the workers of a cluster other than its chief.
        resuming: continue from the newest checkpoint in ``run_dir``.
        lock: the run directory's lock, held by the process that writes it.
    """

    config: RunConfig
    dataset: Dataset
    strategy: Any
    task: distribute.Task | None
    run_dir: Path
    out: Path
    resuming: bool
    lock: rundir.RunLock | None = None


def run(config: RunConfig, resume: bool = False, overwrite: bool = False, dataset: Dataset | None = None,
        callbacks: Sequence = (), verbose: int | None = None, allow_changed_data: bool = False) -> None:
    """Trains ``config.model`` and writes the run directory ``config.out``.

    Args:
        config: the resolved configuration (``tfgen.config.resolve``, or ``resumed``).
        resume: continue the run in ``config.out`` from its newest checkpoint.
        overwrite: delete the run in ``config.out`` first.
        dataset: data to use instead of loading ``config.dataset``.
        callbacks: Keras callbacks run each epoch before tfgen's own.
        verbose: Keras's progress output; None: a bar on a terminal, else a line per epoch.
        allow_changed_data: resume even on data other than the run's (its fingerprint in config.json differs).

    Raises:
        tfgen.errors.BadInputError: the run directory, the data or a setting cannot be used.
        tfgen.errors.TrainingStopped: SIGINT or SIGTERM stopped training between steps.
        tfgen.errors.NonFiniteLossError: a loss became NaN or infinite.
        tfgen.errors.ClusterLostError: another worker of a multi-worker cluster stopped.
        tfgen.errors.DiskFullError: the disk filled up; the finished epochs are kept.
    """
    import tensorflow as tf

    task = distribute.task_from_env() if config.strategy == "multi-worker" else None
    # First, before TensorFlow runs anything (a multi-worker strategy sets up its collective ops at startup),
    # and before any check can refuse the run: once every worker has joined, one that stops makes the
    # others stop too, instead of leaving them waiting for it to join.
    strategy = distribute.make_strategy(config.strategy)
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    try:
        plan = make_plan(config, strategy, task, resume, overwrite, dataset, allow_changed_data)
        try:
            train(plan, callbacks, verbose)
        finally:
            if plan.out != plan.run_dir:
                shutil.rmtree(plan.out, ignore_errors=True)
            if plan.lock:
                plan.lock.release()
    except (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.DeadlineExceededError) as e:
        if task is None:
            raise
        raise ClusterLostError(f"another worker of the cluster stopped or cannot be reached ({type(e).__name__})") \
            from None
    except OSError as e:  # Python's own writes: PNGs, metrics.csv, the GIF, config.json
        if e.errno != errno.ENOSPC:
            raise
        raise DiskFullError(e.filename or config.run_dir) from None
    except tf.errors.OpError as e:  # TensorFlow's writes: checkpoints, the SavedModel, TensorBoard
        if "No space left on device" not in str(e):
            raise
        raise DiskFullError(config.run_dir) from None


def make_plan(config: RunConfig, strategy, task: distribute.Task | None, resume: bool, overwrite: bool,
              dataset: Dataset | None = None, allow_changed_data: bool = False) -> Plan:
    """Checks the run directory, the epochs and the data (``dataset``: instead of loading ``config.dataset``; a
    resumed run's must be the data it trained on, unless ``allow_changed_data``), then creates the directory this
    process writes.

    Raises:
        tfgen.errors.BadInputError: anything that refuses the run, before anything is written.
    """
    lock, resuming = claim(config.run_dir, task, resume, overwrite)
    try:
        finished = rundir.Checkpoints.finished_epochs(rundir.RunDir(config.run_dir).checkpoints) if resuming else 0
        if finished > config.epochs:
            raise ConfigError(f"--epochs {config.epochs} is fewer than the {finished} epochs this run has already "
                              "finished")
        if resuming:  # what cannot be repaired is refused now, before anything is written
            rundir.reconcile(config.run_dir, finished, repair=False)
        config, dataset = prepare(config, dataset)
        if resuming:
            same_data(config.run_dir, dataset, allow_changed_data)
        check_fits(config, -(-min(config.batch_size, len(dataset.x_train)) // strategy.num_replicas_in_sync))
        out = workspace(config.run_dir, task, resuming, overwrite)
        rundir.write_config(out, config_doc(config, dataset))
        return Plan(config, dataset, strategy, task, config.run_dir, out, resuming, lock)
    except BaseException:
        if lock:
            lock.release(refused=True)
        raise


def check_fits(config: RunConfig, batch: int) -> None:
    """Refuses a model whose training at ``batch`` images a step (each replica's) cannot fit in this machine's
    memory, estimated without allocating it.

    Raises:
        ConfigError: naming the model's size, what it needs and what the machine has.
    """
    size = footprint.estimate(config)
    need, have = size.training_bytes(batch), footprint.machine_bytes()
    if need > have:
        shape = "" if config.image_shape is None else f" on {'x'.join(map(str, config.image_shape))} images"
        sizes = [f"--option {name} (now {value})" for name, value in config.options.items()
                 if isinstance(value, int) and not isinstance(value, bool)]
        raise ConfigError(f"{config.model}{shape} has {size.parameters:,} weights and needs at least "
                          f"{need / 2**30:,.1f} GiB to train on batches of {batch}; this machine has "
                          f"{have / 2**30:,.1f} GiB: lower " + ", ".join(["--image-size", "--batch-size", *sizes]))


def claim(run_dir: Path, task: distribute.Task | None, resume: bool,
          overwrite: bool) -> tuple[rundir.RunLock | None, bool]:
    """The run directory's lock (held by the process that writes it: the chief, None on other workers) and whether
    the run resumes.

    Raises:
        tfgen.errors.RunDirError: ``run_dir`` cannot be trained into as asked, or is in use.
    """
    if task is not None and not task.is_chief:  # the chief decides about --out; a worker only reads its checkpoints
        if resume and not rundir.RunDir(run_dir).config.is_file():
            raise rundir.RunDirError(f"worker {task.index} cannot resume: --out {run_dir} holds no run here; "
                                     "resuming a multi-worker run needs --out on storage that every worker can read")
        return None, resume
    try:
        rundir.check_for_training(run_dir, resume, overwrite)  # refuses before the lock creates a file
    except rundir.RunDirError:  # a folder another process is writing right now is "in use", however it looks
        rundir.RunLock.check_free(run_dir)
        raise
    lock = rundir.RunLock(run_dir).acquire()
    try:  # again under the lock: another process may have changed the folder in between
        return lock, rundir.check_for_training(run_dir, resume, overwrite)
    except BaseException:
        lock.release(refused=True)
        raise


def workspace(run_dir: Path, task: distribute.Task | None, resuming: bool, overwrite: bool) -> Path:
    """The directory this process writes, created: ``run_dir`` (cleared first on ``overwrite``) for the chief, a
    scratch copy of what a resumed run reads back (every epoch's grid, for the GIF, and metrics row) for another
    worker of a cluster."""
    if task is None or task.is_chief:
        out = run_dir
        if overwrite:
            rundir.clear(run_dir)
    else:
        out = Path(tempfile.mkdtemp(prefix=f"tfgen-{task.type}{task.index}-"))
        if resuming:
            shutil.copytree(rundir.RunDir(run_dir).images, rundir.RunDir(out).images)
            if rundir.RunDir(run_dir).metrics.is_file():
                shutil.copy2(rundir.RunDir(run_dir).metrics, rundir.RunDir(out).metrics)
    rundir.create(out)
    return out


def train(plan: Plan, callbacks: Sequence = (), verbose: int = 2) -> None:
    """Trains ``plan.config.model`` from its first unfinished epoch; every output goes to ``plan.out``.

    ``callbacks`` run each epoch before tfgen's own; ``verbose`` is Keras's progress output (0 quiet, 1 bar, 2 a
    line per epoch), and tfgen's progress lines are printed unless it is 0.
    """
    import keras
    import tensorflow as tf

    from tfgen import callbacks as cb

    config, strategy, dataset = plan.config, plan.strategy, plan.dataset
    say = (lambda message: print(message, flush=True)) if verbose else (lambda message: None)
    replicas = strategy.num_replicas_in_sync
    keras.utils.set_random_seed(config.seed)
    warning = precision.hardware_warning(config.precision)
    if warning:
        warn(warning)
    with strategy.scope():
        model = config.make_model()
        if replicas > 1:
            # Keras 3.15 under tf.distribute fails with steps_per_execution > 1 or XLA: one step a call, no XLA.
            if config.jit_compile:
                warn("XLA is off with several replicas (Keras cannot compile it there)")
            say(f"training on {replicas} replicas{cluster_role(plan)}, global batch {config.batch_size}")
            model.compile(jit_compile=False, steps_per_execution=1)
        else:
            model.compile(jit_compile=config.jit_compile)
        checkpoints = rundir.Checkpoints(rundir.RunDir(plan.out).checkpoints, model, model.named_optimizers())
        try:
            initial_epoch = checkpoints.restore(rundir.RunDir(plan.run_dir).checkpoints) if plan.resuming else 0
        except rundir.UnreadableCheckpointError as e:
            raise rundir.RunDirError(f"cannot resume {plan.run_dir}: {e}; start again with --overwrite") from None
        checkpoints.tidy()
    repairs, redraw = rundir.reconcile(plan.out, initial_epoch) if plan.resuming else ([], [])
    if plan.resuming:
        say(f"resuming {plan.run_dir} after epoch {initial_epoch} of {config.epochs}")

    train_data, test_data, number_epochs = pipelines(plan, model.input_range, initial_epoch)
    outputs = cb.EpochOutputs(plan.out, picture=picture(config, model, dataset),
                              scorers=scorers(config, model, dataset), loss_names=model.loss_names,
                              checkpoints=checkpoints, num_train=len(dataset.x_train), initial_epoch=initial_epoch,
                              epochs=config.epochs, tensorboard=config.tensorboard, say=say)
    outputs.set_model(model)
    for epoch_number in redraw:
        outputs.write_picture(epoch_number)
    if repairs:
        warn(f"repaired {plan.run_dir} to agree with its checkpoint of epoch {initial_epoch}: "
                      + "; ".join(repairs))
    stop = cb.StopOnSignal()
    try:
        with cb.stop_on_signals(stop):
            # The pipeline shuffles itself (seeded); shuffle=False only silences Keras.
            model.fit(train_data, validation_data=test_data, epochs=config.epochs, initial_epoch=initial_epoch,
                      callbacks=[stop, number_epochs, *callbacks, outputs], shuffle=False,
                      verbose=verbose)
    except (TrainingStopped, NonFiniteLossError) as e:  # raised by the callbacks, which do not know the run
        e.checkpoint = rundir.Checkpoints.latest(rundir.RunDir(plan.run_dir).checkpoints)
        if isinstance(e, TrainingStopped):
            e.multi_worker = plan.task is not None
        raise
    except tf.errors.OpError:  # a streamed file that failed reaches us inside TensorFlow's error: raise it as it is
        failure = dataset.read_failure
        if failure is None:
            raise
        failure.checkpoint = rundir.Checkpoints.latest(rundir.RunDir(plan.run_dir).checkpoints)
        raise failure from None
    say(f"finished {config.epochs} epoch{'' if config.epochs == 1 else 's'}; outputs in {plan.run_dir}")


def pipelines(plan: Plan, input_range: InputRange, initial_epoch: int):
    """The training and test pipelines, and the callback that numbers the training pipeline's epochs.

    Each epoch's order comes from the seed and the epoch's number, set as the
    epoch begins: a resumed run reads every epoch in the order an uninterrupted
    one does (``tfgen.data.pipeline``).
    """
    import keras
    import tensorflow as tf

    with tf.device("/cpu:0"):
        epoch = tf.Variable(initial_epoch, dtype=tf.int64, trainable=False)
    number_epochs = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: epoch.assign(e))
    train_data, test_data = data_pipelines(plan.config, plan.dataset, input_range,
                                           plan.strategy.num_replicas_in_sync, epoch)
    return train_data, test_data, number_epochs


def cluster_role(plan: Plan) -> str:
    """`` (N workers; this is worker I...)`` for a multi-worker run, else nothing."""
    task = plan.task
    if task is None:
        return ""
    role = ", the chief)" if plan.out == plan.run_dir else f"; the chief writes {plan.run_dir})"
    return f" ({task.num_workers} workers; this is {task.type} {task.index}{role}"


def picture(config: RunConfig, model, dataset: Dataset):
    """The per-epoch picture: the model's ``preview`` of inputs fixed once from the run's seed, a conditional
    model's rows labelled with the class names."""
    inputs = model.preview_inputs(config.seed, dataset.x_test)
    if model.has("conditional"):
        names = dataset.label_names
        return lambda model, epoch: model.preview(inputs, epoch, row_labels=names)
    return lambda model, epoch: model.preview(inputs, epoch)


def scorers(config: RunConfig, model, dataset: Dataset) -> list:
    """Scores added to each epoch's metrics: mode coverage of the 2-D sets, ``--eval-every``'s sample scores."""
    from tfgen import callbacks as cb
    from tfgen import evaluation

    found = []
    if dataset.modes is not None:
        z = model.draw_noise(10_000, np.random.default_rng([config.seed, 1]))
        found.append(cb.ModeCoverage(dataset.modes, dataset.mode_std, z))
    if config.eval_every:
        classifier = classifier_lib.load_or_train(dataset)  # trained on exactly this run's data
        n = min(1000, len(dataset.x_test))
        for reason in (evaluation.weak_classifier(classifier.info, dataset.num_classes),
                       evaluation.too_few_for_frechet(n, classifier_lib.FEATURES)):
            if reason:
                warn(f"--eval-every: {reason}")
        z, labels = evaluation.sample_inputs(model, n, [config.seed, 2])
        real = to_float(dataset.x_test[:n], "unit")
        score = lambda samples, labels: evaluation.sample_scores(samples, labels, real, classifier)  # noqa: E731
        found.append(cb.SampleScores(config.eval_every, config.epochs, z, labels, score))
    return found


def same_data(run_dir: Path, dataset: Dataset, allowed: bool) -> None:
    """Refuses (or with ``allowed``, warns of) resuming on data whose fingerprint is not the one config.json
    recorded when the run last started; a run from before fingerprints were recorded is not checked."""
    saved = json.loads(rundir.RunDir(run_dir).config.read_text()).get("data", {})
    if saved.get("fingerprint") in (None, dataset.fingerprint):
        return
    now, then = (len(dataset.x_train), len(dataset.x_test)), (saved.get("num_train"), saved.get("num_test"))
    what = "the same number of images, but other images or labels" if now == then else \
        f"{now[0]:,} training and {now[1]:,} test images, where it had {then[0]:,} and {then[1]:,}"
    if not allowed:
        raise ConfigError(f"the data is not what the run in {run_dir} trained on ({what}); resume it with its own "
                          "data, or pass --allow-changed-data to train on with this data")
    warn(f"resuming {run_dir} on other data than it trained on ({what}), as --allow-changed-data asks")


def config_doc(config: RunConfig, dataset: Dataset) -> dict[str, Any]:
    """config.json: the resolved configuration plus the data and versions it ran with."""
    import keras
    import tensorflow as tf

    return {
        "config": config.to_dict(),
        "data": {"dataset": dataset.name, "source": dataset.source,
                 "num_train": len(dataset.x_train), "num_test": len(dataset.x_test),
                 "fingerprint": dataset.fingerprint,
                 **({} if dataset.class_names is None else {"class_names": list(dataset.class_names)}),
                 **({"streamed": True} if dataset.streamed else {})},
        "versions": {"tfgen": __version__, "tensorflow": tf.__version__, "keras": keras.__version__,
                     "python": sys.version.split()[0]},
    }
