"""tf.distribute: the same global batch gives the same update on one device, on two replicas, on two workers.

Two replicas on this CPU-only machine are two logical CPU devices, which must be
set before TensorFlow starts: each check runs in a fresh process.
"""

import json
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tfgen.commands import main
from tfgen.distribute import ClusterError, local_tf_configs, task_from_env

from conftest import REPO, TRAIN_PY, run_train, train_env
from conftest import TINY, assert_complete_run, read_rows, tiny_options

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

    # One model a process (a second MirroredStrategy's collectives would clash), with its options as JSON.
    name, options = sys.argv[1], json.loads(sys.argv[2])
    cfg = config_lib.resolve(name, {"out": "unused", "latent_dim": 4, "options": options})
    if cfg.dataset == "ring":
        points = data.make_points("ring", 0, 16, 1)
        x, y = points.x_train, points.y_train
    else:
        rng = np.random.default_rng(0)
        x, y = rng.integers(0, 256, (16, 28, 28, 1), dtype=np.uint8), rng.integers(0, 10, 16, dtype=np.uint8)
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
    print(json.dumps({"replicas": replicas,
                      "diff": max(float(np.abs(a - b).max()) for a, b in zip(*weights)),
                      "moved": max(float(np.abs(a - b).max()) for a, b in zip(initial, weights[0]))}))
    """
)


def run_two_cpus(script, *args, timeout=300):
    result = subprocess.run([sys.executable, "-c", script.replace("{repo!r}", repr(str(REPO))), *args], cwd=REPO,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


# gan: noise sliced per replica, two networks and two optimizers; vae (8 s, slow): reparameterization noise;
# the diffusion models (slow): times, noise and label drops drawn per replica, the moving average updated per replica;
# cond_sngan (slow): the power iteration's u assigned in each replica, G's BatchNorm over the global batch
@pytest.mark.parametrize("name", [pytest.param("vae", marks=pytest.mark.slow), "gan",
                                  pytest.param("diffusion", marks=pytest.mark.slow),
                                  pytest.param("cond_diffusion", marks=pytest.mark.slow),
                                  pytest.param("cond_sngan", marks=pytest.mark.slow)])
def test_one_step_on_two_replicas_equals_one_step_on_one_device(name):
    r = json.loads(run_two_cpus(ONE_STEP, name, json.dumps(tiny_options(name))).stdout.strip().splitlines()[-1])
    assert r["replicas"] == [1, 2]
    assert r["moved"] > 1e-4  # the step changed the weights
    assert r["diff"] < 1e-5, r  # ... identically, within float tolerance


@pytest.mark.slow
def test_train_py_with_strategy_mirrored_writes_a_complete_run(tmp_path, data_dir):
    out = tmp_path / "run"
    script = TWO_CPUS + "from tfgen.commands import main\nsys.exit(main(sys.argv[1:]))\n"
    # 256 training images in batches of 85 leave a last batch of 1: too few for two replicas.
    common = ["cvae", "--data-dir", str(data_dir), "--out", str(out), *TINY, "--batch-size", "85"]
    result = run_two_cpus(script, *common, "--epochs", "2", "--strategy", "mirrored")
    assert "training on 2 replicas, global batch 85" in result.stdout
    assert "the training set's last batch of 1 cannot be split across 2 replicas" in result.stderr
    assert_complete_run(out, 2)
    assert json.loads((out / "config.json").read_text())["config"]["strategy"] == "mirrored"
    # A resumed run may move to another strategy (a preempted job restarted elsewhere).
    run_two_cpus(script, *common, "--epochs", "3", "--strategy", "one-device", "--resume")
    assert_complete_run(out, 3)


# ----- MultiWorkerMirroredStrategy: two train.py processes on this machine -----


class Workers:
    """``train.py ARGS`` in one process per worker of a fresh 127.0.0.1 cluster, each with its own TF_CONFIG."""

    def __init__(self, tmp_path, args, n=2):
        self.logs = [tmp_path / f"worker{i}-{time.monotonic_ns()}.log" for i in range(n)]
        self.tmpdirs = [tmp_path / f"tmp{i}" for i in range(n)]
        self.procs = []
        for i, tf_config in enumerate(local_tf_configs(n)):
            self.tmpdirs[i].mkdir(exist_ok=True)
            env = train_env(TMPDIR=str(self.tmpdirs[i]), TF_CONFIG=tf_config)
            with open(self.logs[i], "w") as log:
                self.procs.append(subprocess.Popen([*TRAIN_PY, *args], cwd=REPO, env=env, stdout=log,
                                                   stderr=subprocess.STDOUT))

    def output(self, i):
        return self.logs[i].read_text()

    def wait(self, timeout=300):
        """Every worker's exit status; a worker still running at ``timeout`` is killed and fails the test."""
        deadline = time.monotonic() + timeout
        try:
            for p in self.procs:
                p.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pytest.fail("a worker hung:\n" + "\n".join(self.output(i)[-2000:] for i in range(len(self.procs))))
        finally:
            for p in self.procs:
                if p.poll() is None:
                    p.kill()
                    p.wait(timeout=60)
        return [p.returncode for p in self.procs]


@pytest.mark.slow
def test_multi_worker_train_py_gives_the_one_device_run_written_by_the_chief_alone(tmp_path, data_dir):
    out = tmp_path / "run"
    common = ["cvae", "--data-dir", str(data_dir), "--out", str(out), *TINY]
    workers = Workers(tmp_path, [*common, "--epochs", "2", "--strategy", "multi-worker"])
    assert workers.wait() == [0, 0], workers.output(0)[-3000:] + workers.output(1)[-3000:]
    assert "training on 2 replicas (2 workers; this is worker 0, the chief), global batch 64" in workers.output(0)
    assert f"this is worker 1; the chief writes {out}" in workers.output(1)
    rows = assert_complete_run(out, 2)
    assert json.loads((out / "config.json").read_text())["config"]["strategy"] == "multi-worker"
    # Worker 1 wrote its checkpoints and export to a temporary directory, and deleted it.
    assert not any(workers.tmpdirs[1].iterdir())
    # The global batch of 64 split across two processes trains as one device does.
    alone = tmp_path / "alone"
    result = run_train(*common, "--epochs", "2", "--out", str(alone), "--strategy", "one-device")
    assert result.returncode == 0, result.stderr[-3000:]
    for distributed, single in zip(rows, read_rows(alone)):
        for column in ("loss", "test_loss"):
            assert float(distributed[column]) == pytest.approx(float(single[column]), rel=1e-4), column


@pytest.mark.slow
def test_multi_worker_run_survives_a_killed_worker_and_resumes(tmp_path, data_dir):
    out = tmp_path / "run"
    # cgan: two networks, two optimizers, BatchNorm, random fake labels
    common = ["cgan", "--data-dir", str(data_dir), "--out", str(out), "--strategy", "multi-worker", *TINY]
    workers = Workers(tmp_path, [*common, "--epochs", "4"])
    deadline = time.monotonic() + 240
    state = out / "checkpoints" / "checkpoint"
    while not (state.is_file() and 'ckpt-1"' in state.read_text()):
        assert all(p.poll() is None for p in workers.procs), workers.output(0)[-3000:] + workers.output(1)[-3000:]
        assert time.monotonic() < deadline, "epoch 1 did not finish in time"
        time.sleep(0.02)
    workers.procs[1].kill()  # SIGKILL, as a lost machine
    codes = workers.wait(timeout=120)  # the chief must notice, not wait for its peer forever
    assert codes == [1, -signal.SIGKILL], workers.output(0)[-3000:]
    assert "another worker of the cluster stopped or cannot be reached" in workers.output(0)
    resumed = Workers(tmp_path, [*common, "--epochs", "4", "--resume"])
    assert resumed.wait() == [0, 0], resumed.output(0)[-3000:] + resumed.output(1)[-3000:]
    assert "resuming" in resumed.output(1)
    assert_complete_run(out, 4)


def test_multi_worker_without_tf_config_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert main(["cvae", "--strategy", "multi-worker", "--out", str(tmp_path / "run")]) == 2
    assert "--strategy multi-worker reads the cluster from the TF_CONFIG environment" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("tf_config, message", [
    ("{not json", "TF_CONFIG is not a cluster and task"),
    ('{"cluster": {"worker": ["a:1"]}}', "TF_CONFIG is not a cluster and task"),
    ('{"cluster": {"ps": ["a:1"], "worker": ["b:1"]}, "task": {"type": "worker", "index": 0}}', "only chief, worker"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}', "is not in its cluster"),
    ('{"cluster": {"worker": "a:1"}, "task": {"type": "worker", "index": 0}}',
     "cluster entry 'worker' must be a list of host:port addresses; got 'a:1'"),
    ('{"cluster": {"worker": ["a:1", "b"]}, "task": {"type": "worker", "index": 0}}',
     "cluster entry 'worker' must be a list of host:port addresses; got \\['a:1', 'b'\\]"),
    ('{"cluster": {"worker": [3]}, "task": {"type": "worker", "index": 0}}', "must be a list of host:port"),
    ('{"cluster": ["a:1"], "task": {"type": "worker", "index": 0}}', "cluster must map task types to lists"),
])
def test_bad_tf_config_names_the_problem(tf_config, message):
    with pytest.raises(ClusterError, match=message):
        task_from_env({"TF_CONFIG": tf_config})


def test_the_chief_is_the_chief_task_else_worker_0():
    def task(cluster, kind, index):
        return task_from_env({"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}})})

    workers = {"worker": ["a:1", "b:1"]}
    assert [task(workers, "worker", i).is_chief for i in (0, 1)] == [True, False]
    with_chief = {"chief": ["c:1"], "worker": ["a:1", "b:1"]}
    assert task(with_chief, "chief", 0).is_chief
    assert not any(task(with_chief, "worker", i).is_chief for i in (0, 1))
    assert task(with_chief, "worker", 1).num_workers == 3
