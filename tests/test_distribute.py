"""tf.distribute: the same global batch gives the same update on one device or on two replicas.

Two replicas on this CPU-only machine are two logical CPU devices, which must be
set before TensorFlow starts: each check runs in a fresh process.
"""

import json
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO
from test_train import TINY, assert_complete_run

TWO_CPUS = textwrap.dedent(
    """
    import sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    sys.path.insert(0, {repo!r})
    """
)

ONE_STEP = TWO_CPUS + textwrap.dedent(
    """
    import json
    import keras
    import numpy as np
    from tfgen import config as config_lib, data
    from tfgen.distribute import make_strategy

    results = {}
    for name in sys.argv[1:]:  # one model a process: a second MirroredStrategy's collectives would clash
        cfg = config_lib.resolve(name, {"out": "unused", "latent_dim": 4})
        if cfg.dataset == "ring":
            points = data.make_points("ring", 0, 16, 1)
            x, y = points.x_train, points.y_train
        else:
            rng = np.random.default_rng(0)
            x, y = rng.integers(0, 256, (16, 28, 28), dtype=np.uint8), rng.integers(0, 10, 16, dtype=np.uint8)
        weights, replicas = [], []
        for strategy in (tf.distribute.get_strategy(), make_strategy("mirrored")):
            keras.utils.set_random_seed(0)
            with strategy.scope():
                model = cfg.make_model()
                model.compile(jit_compile=False, steps_per_execution=1)
            if weights:
                model.set_weights(initial)
            else:
                initial = model.get_weights()
            model.fit(data.pipeline(x, y, 16, model.input_range, shuffle=False), epochs=1, verbose=0)
            weights.append(model.get_weights())
            replicas.append(strategy.num_replicas_in_sync)
        results[name] = {"replicas": replicas,
                         "diff": max(float(np.abs(a - b).max()) for a, b in zip(*weights)),
                         "moved": max(float(np.abs(a - b).max()) for a, b in zip(initial, weights[0]))}
    print(json.dumps(results))
    """
)


def run_two_cpus(script, *args, timeout=300):
    result = subprocess.run([sys.executable, "-c", script.replace("{repo!r}", repr(str(REPO))), *args], cwd=REPO,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.parametrize("name", ["vae", "gan"])  # reparameterization noise; two networks and two optimizers
def test_one_step_on_two_replicas_equals_one_step_on_one_device(name):
    r = json.loads(run_two_cpus(ONE_STEP, name).stdout.strip().splitlines()[-1])[name]
    assert r["replicas"] == [1, 2]
    assert r["moved"] > 1e-4  # the step changed the weights
    assert r["diff"] < 1e-5, r  # ... identically, within float tolerance


@pytest.mark.slow
def test_train_py_with_strategy_mirrored_writes_a_complete_run(tmp_path, data_dir):
    out = tmp_path / "run"
    script = TWO_CPUS + "from tfgen.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    common = ["cvae", "--data-dir", str(data_dir), "--out", str(out), *TINY]
    result = run_two_cpus(script, *common, "--epochs", "2", "--strategy", "mirrored")
    assert "training on 2 replicas, global batch 64" in result.stdout
    assert_complete_run(out, 2)
    assert json.loads((out / "config.json").read_text())["config"]["strategy"] == "mirrored"
    # A resumed run may move to another strategy (a preempted job restarted elsewhere).
    run_two_cpus(script, *common, "--epochs", "3", "--strategy", "one-device", "--resume")
    assert_complete_run(out, 3)
