"""Training on several devices or machines through ``tf.distribute`` (``--strategy``).

``--batch-size`` is the global batch: Keras splits each batch across the
replicas, every replica's losses are means over its own share, and
``tfgen.models.base.apply_gradients`` divides them by the number of replicas
before the gradients are summed across replicas, so that a global batch gives
the same update on one device or on N. Noise is drawn for the whole global
batch and sliced per replica (``tfgen.models.base.normal``) for the same reason.

``multi-worker`` runs one process per machine, each started with the same
command and its own ``TF_CONFIG`` (the cluster and this process's place in it).
The chief writes the run directory; the other workers do the same work (saving
a checkpoint or a SavedModel reads variables through the strategy's collective
ops, which every worker must join) into a temporary directory that is deleted.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass

from tfgen.errors import BadInputError

STRATEGIES = ("auto", "one-device", "mirrored", "multi-worker")
TASK_TYPES = ("chief", "worker")


class ClusterError(BadInputError):
    """``TF_CONFIG`` is missing or does not describe a cluster this process belongs to."""


@dataclass(frozen=True)
class Task:
    """This process's place in a multi-worker cluster."""

    type: str
    index: int
    num_workers: int  # every process of the cluster, the chief included
    has_chief: bool

    @property
    def is_chief(self) -> bool:
        """The process that writes the run: the ``chief`` task, else worker 0 of a cluster without one."""
        return self.type == "chief" or (self.type == "worker" and self.index == 0 and not self.has_chief)


def task_from_env(environ: dict | None = None) -> Task:
    """Reads and checks ``TF_CONFIG`` for ``--strategy multi-worker``.

    Raises:
        ClusterError: it is unset, not JSON, or does not name this task in its cluster.
    """
    text = (os.environ if environ is None else environ).get("TF_CONFIG")
    example = ('e.g. TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
               '"task": {"type": "worker", "index": 0}}\' (see the README, "Several machines")')
    if not text:
        raise ClusterError(f"--strategy multi-worker reads the cluster from the TF_CONFIG environment variable, "
                           f"which is not set; {example}")
    try:
        doc = json.loads(text)
        cluster, task = doc["cluster"], doc["task"]
        kind, index = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError) as e:
        raise ClusterError(f"TF_CONFIG is not a cluster and task ({type(e).__name__}: {e}); {example}") from None
    if not isinstance(cluster, dict):
        raise ClusterError(f"TF_CONFIG's cluster must map task types to lists of host:port addresses; got {cluster!r}; "
                           f"{example}")
    for job, addresses in cluster.items():
        if not isinstance(addresses, list) or not all(_is_address(a) for a in addresses):
            raise ClusterError(f"TF_CONFIG's cluster entry {job!r} must be a list of host:port addresses; got "
                               f"{addresses!r}; {example}")
    unknown = sorted(set(cluster) - set(TASK_TYPES))
    if unknown or kind not in TASK_TYPES:
        raise ClusterError(f"TF_CONFIG names task types {unknown or [kind]}; multi-worker training knows only "
                           f"{', '.join(TASK_TYPES)}")
    if not 0 <= index < len(cluster.get(kind, [])):
        raise ClusterError(f"TF_CONFIG's task {kind} {index} is not in its cluster {cluster}")
    return Task(kind, index, sum(len(cluster.get(t, [])) for t in TASK_TYPES), bool(cluster.get("chief")))


def _is_address(value) -> bool:
    """Whether ``value`` is a ``host:port`` string with a port number."""
    if not isinstance(value, str):
        return False
    host, sep, port = value.rpartition(":")
    return bool(sep and host and port.isdigit() and 0 < int(port) < 65536)


def make_strategy(name: str):
    """The ``tf.distribute`` strategy for ``--strategy NAME``.

    ``auto``: ``MirroredStrategy`` over every GPU when more than one is visible,
    else TensorFlow's default (one device, GPU if there is one). ``one-device``:
    the first GPU, else the CPU. ``mirrored``: ``MirroredStrategy`` over every
    visible GPU (over the CPU's logical devices when there is no GPU).
    ``multi-worker``: ``MultiWorkerMirroredStrategy`` over the cluster in
    ``TF_CONFIG``, every GPU of every worker (the CPU where a worker has none);
    it must be made before TensorFlow runs anything else in the process.

    Raises:
        ClusterError: ``multi-worker`` without a usable ``TF_CONFIG``.
    """
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}")
    if name == "multi-worker":
        task_from_env()
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "one-device":
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices)


def in_multi_worker_mode(strategy=None) -> bool:
    """Whether ``strategy`` (default: the current one) spans several worker processes."""
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return False
    spec = resolver.cluster_spec()
    return sum(spec.num_tasks(job) for job in spec.jobs) > 1


def local_tf_configs(n: int) -> list[str]:
    """``TF_CONFIG`` values of an ``n``-worker cluster on this machine (127.0.0.1, ports free a moment ago).

    For trying ``multi-worker`` out, tests and benchmarks: start one process per value.
    """
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    cluster = {"worker": [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]}
    for s in sockets:
        s.close()
    return [json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}) for i in range(n)]
