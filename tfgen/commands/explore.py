"""``tfgen explore COMMAND RUN_DIR``: latent-space tools for a finished (or running) run directory.

    python -m tfgen.explore COMMAND RUN_DIR [options]      (or: tfgen explore ...)

Commands: interpolate, retrieve, latent-map, reconstruct, compare,
conditional-grid. Each loads the model from the run's newest checkpoint and
the data the run was trained on (from its config.json), writes PNGs (and GIFs)
into ``RUN_DIR/explore/`` and prints where.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from statistics import NormalDist
from typing import Sequence

import numpy as np

import tfgen
from tfgen import data as data_lib
from tfgen import images
from tfgen.api import Run
from tfgen.commands.common import positive, quiet_tensorflow, report
from tfgen.errors import BadInputError

COMMANDS = ("interpolate", "retrieve", "latent-map", "reconstruct", "compare", "conditional-grid")


class ExploreError(BadInputError):
    """A command that cannot run on this run directory; the message says why."""


def require_encoder(run: Run, command: str) -> None:
    if not run.model.has("encoder"):
        raise ExploreError(f"{command} needs a model with an encoder; {run.settings.model!r} has none")


def test_data(run: Run) -> tuple[np.ndarray, np.ndarray]:
    """The run's test images as its model takes them, and their labels."""
    ds = run.dataset()
    return data_lib.to_float(ds.x_test, run.model.input_range), ds.y_test


def labels_arg(run: Run, labels) -> tuple:
    """``(labels,)`` for a conditional model, else ``()``: the optional argument of sample/encode."""
    return (np.asarray(labels),) if run.model.has("conditional") else ()


def output(run: Run, name: str) -> Path:
    """A path in ``RUN_DIR/explore/`` (created on first use)."""
    folder = run.path / "explore"
    folder.mkdir(exist_ok=True)
    return folder / name


def encode_all(run: Run, x: np.ndarray, labels: np.ndarray, batch: int = 1000) -> np.ndarray:
    """Latent means of every image, in batches."""
    parts = [np.asarray(run.model.latent_mean(x[i : i + batch], *labels_arg(run, labels[i : i + batch])))
             for i in range(0, len(x), batch)]
    return np.concatenate(parts)


def first_of_digit(labels: np.ndarray, digit: int) -> int:
    hits = np.flatnonzero(labels == digit)
    if not len(hits):
        raise ExploreError(f"the test set has no image of class {digit}")
    return int(hits[0])


def labelled(run: Run) -> bool:
    """Whether the run's data has labels (class folders, y_train)."""
    return bool(run.settings.num_classes)


def check_index(index: int, n: int, flag: str) -> int:
    if not 0 <= index < n:
        raise ExploreError(f"{flag} {index} is out of range; the test set has images 0..{n - 1}")
    return index


def save(path: Path, grid: np.ndarray) -> None:
    images.write_png(path, grid)
    print(f"wrote {path}")


# ----- the commands -----


def interpolate(run: Run, args: argparse.Namespace) -> None:
    """Decodes evenly spaced points between the codes of two test images: a strip PNG and a there-and-back GIF."""
    require_encoder(run, "interpolate")
    x, y = test_data(run)
    if args.digits:
        a, b = (first_of_digit(y, d) for d in args.digits)
    else:
        a = check_index(args.from_index, len(x), "--from")
        if args.to_index is None:  # the first test image of another digit than --from's, so the two differ
            others = np.flatnonzero(y != y[a])
            args.to_index = int(others[0]) if len(others) else (a + 1) % len(x)
        b = check_index(args.to_index, len(x), "--to")
    codes = encode_all(run, x[[a, b]], y[[a, b]])
    t = np.linspace(0.0, 1.0, args.steps, dtype=np.float32)[:, None]
    z = (1 - t) * codes[0] + t * codes[1]
    # A conditional model also blends the two one-hot labels, so the class morphs too.
    onehot = np.eye(max(run.model.num_classes, 1), dtype=np.float32)[[y[a], y[b]]]
    decoded = np.asarray(run.model.decode_latent(z, *labels_arg(run, (1 - t) * onehot[0] + t * onehot[1])))
    strip = np.concatenate([x[a : a + 1], decoded, x[b : b + 1]])
    name = f"interpolate_{a}_{b}"
    save(output(run, f"{name}.png"), images.tile(strip, 1, len(strip)))
    frames = [images.tile(img[None], 1, 1, pad=0, scale=6) for img in decoded]
    images.write_frames(output(run, f"{name}.gif"), frames + frames[-2:0:-1], duration=0.12)
    classes = f", classes {y[a]} -> {y[b]}" if labelled(run) else ""
    print(f"wrote {output(run, name + '.gif')} (test images {a} -> {b}{classes}, {args.steps} steps)")


def retrieve(run: Run, args: argparse.Namespace) -> None:
    """Nearest test images by distance between latent means; precision@K over the whole test set."""
    require_encoder(run, "retrieve")
    x, y = test_data(run)
    k = args.k
    if not 0 < k < len(x):
        raise ExploreError(f"--k {k} must be between 1 and {len(x) - 1}")
    means = encode_all(run, x, y).astype(np.float64)
    sq = np.sum(means**2, axis=1)
    neighbours = np.empty((len(x), k), dtype=np.int64)
    for start in range(0, len(x), 500):  # 500 x N distances at a time keeps memory bounded
        block = sq[start : start + 500, None] + sq[None, :] - 2.0 * means[start : start + 500] @ means.T
        block[np.arange(len(block)), np.arange(start, start + len(block))] = np.inf  # not itself
        part = np.argpartition(block, k, axis=1)[:, :k]
        order = np.take_along_axis(block, part, axis=1).argsort(axis=1)
        neighbours[start : start + 500] = np.take_along_axis(part, order, axis=1)
    if args.queries:
        queries = args.queries
    elif labelled(run):  # the first image of each of the first ten classes
        queries = [first_of_digit(y, d) for d in range(10) if np.any(y == d)]
    else:
        queries = list(range(min(10, len(x))))
    queries = [check_index(q, len(x), "--queries") for q in queries]
    rows = np.concatenate([np.concatenate([x[q : q + 1], x[neighbours[q]]]) for q in queries])
    save(output(run, f"retrieve_k{k}.png"), images.tile(rows, len(queries), k + 1))
    if not labelled(run):
        print(f"no precision@{k}: the run's data has no labels to compare neighbours by")
        return
    precision = float(np.mean(y[neighbours] == y[:, None]))
    print(f"precision@{k} over all {len(x)} test images (share of neighbours with the query's class): {precision:.4f}")


def latent_map(run: Run, args: argparse.Namespace) -> None:
    """For a 2-D latent: decode a grid of z over the prior's quantiles, and scatter the test means by digit."""
    if run.model.latent_dim != 2:
        raise ExploreError(f"latent-map needs a 2-D latent; {run.path} has latent_dim {run.model.latent_dim} "
                           "(train with --latent-dim 2; train.py --list shows each model's default)")
    n = args.n
    q = np.array([NormalDist().inv_cdf(p) for p in np.linspace(0.05, 0.95, n)], dtype=np.float32)
    # Row r, column c decodes (q[c], q[-1 - r]): z1 grows to the right, z2 upwards.
    z = np.stack(np.meshgrid(q, q[::-1]), axis=-1).reshape(-1, 2)
    labels = labels_arg(run, np.full(len(z), args.label, dtype=np.int32))
    manifold = images.tile(np.asarray(run.model.sample(z, *labels)), n, n, pad=0, scale=2)
    save(output(run, "latent_manifold.png"), manifold)
    if run.model.has("encoder"):
        x, y = test_data(run)
        plot_scatter(encode_all(run, x, y), y if labelled(run) else None, output(run, "latent_scatter.png"))


def plot_scatter(means: np.ndarray, labels: np.ndarray | None, path: Path) -> None:
    """The latent means, coloured by class when there are labels."""
    fig, ax = images.pyplot().subplots(figsize=(6, 5.4))
    if labels is None:
        ax.scatter(means[:, 0], means[:, 1], s=2)
    else:
        n = int(labels.max()) + 1
        points = ax.scatter(means[:, 0], means[:, 1], c=labels, cmap="tab10" if n <= 10 else "viridis", s=2,
                            vmin=-0.5, vmax=n - 0.5)
        fig.colorbar(points, ax=ax, ticks=range(n) if n <= 20 else None, label="class")
    ax.set_xlabel("z1 (mean)")
    ax.set_ylabel("z2 (mean)")
    ax.set_title("test-set latent means")
    images.save_figure(fig, path)
    print(f"wrote {path}")


def reconstruct(run: Run, args: argparse.Namespace) -> None:
    """The first N test images (top row) above their reconstructions (bottom row)."""
    require_encoder(run, "reconstruct")
    x, y = test_data(run)
    n = min(args.n, len(x))
    recon = np.asarray(run.model.reconstruct(x[:n], *labels_arg(run, y[:n])))
    save(output(run, f"reconstruct_{n}.png"), images.tile(np.concatenate([x[:n], recon]), 2, n))


def compare(run: Run, args: argparse.Namespace) -> None:
    """Samples of this run beside samples of another run (by default its model's counterpart), in one PNG."""
    counterpart = run.model.counterpart
    if args.other is None and counterpart is None:
        raise ExploreError(f"model {run.settings.model!r} names no counterpart to compare with; pass --with RUN_DIR")
    other_dir = Path(args.other) if args.other else run.path.parent / counterpart
    if not other_dir.exists():
        raise ExploreError(f"no run to compare with at {other_dir}; pass --with RUN_DIR")
    other = tfgen.load(other_dir)
    n, cols = args.n, int(np.ceil(np.sqrt(args.n)))
    rng = np.random.default_rng(args.seed)
    panels = []
    shared = rng.standard_normal((n, run.model.latent_dim)).astype(np.float32)
    for r in (run, other):
        z = shared if r.model.latent_dim == run.model.latent_dim else \
            rng.standard_normal((n, r.model.latent_dim)).astype(np.float32)
        labels = np.arange(n, dtype=np.int32) % max(r.model.num_classes, 1)
        panels.append(images.tile(np.asarray(r.model.sample(z, *labels_arg(r, labels))), cols, cols))
    path = output(run, f"compare_{run.settings.model}_vs_{other.settings.model}.png")
    save(path, images.side_by_side(panels, gap=24))
    print(f"left: {run.path} ({run.settings.model}); right: {other.path} ({other.settings.model})")


def conditional_grid(run: Run, args: argparse.Namespace) -> None:
    """Conditional models: one row per class, one column per code z."""
    if not run.model.has("conditional"):
        raise ExploreError(f"conditional-grid needs a conditional model; {run.settings.model!r} takes no labels")
    rows = run.model.num_classes
    z = np.random.default_rng(args.seed).standard_normal((args.columns, run.model.latent_dim)).astype(np.float32)
    z = np.tile(z, (rows, 1))
    labels = np.repeat(np.arange(rows, dtype=np.int32), args.columns)
    save(output(run, "conditional_grid.png"), images.tile(np.asarray(run.model.sample(z, labels)), rows, args.columns))


HANDLERS = {"interpolate": interpolate, "retrieve": retrieve, "latent-map": latent_map,
            "reconstruct": reconstruct, "compare": compare, "conditional-grid": conditional_grid}


def index_list(text: str) -> list[int]:
    """argparse type of ``--queries``: test image indices separated by commas."""
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes test image indices separated by commas, such as 0,5,9; got {text!r}") \
            from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tfgen.explore", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by train.py")
        p.add_argument("--data-dir", help="where the run's data is now, if it moved")
        p.add_argument("--seed", type=int, default=0, help="seed of the codes drawn (default 0)")
        return p

    p = command("interpolate", "decode evenly spaced points between the codes of two test images")
    p.add_argument("--from", dest="from_index", type=int, default=0, help="first test image index (default 0)")
    p.add_argument("--to", dest="to_index", type=int,
                   help="second test image index (default: the first test image of another class than --from's)")
    p.add_argument("--digits", type=int, nargs=2, metavar=("A", "B"),
                   help="use the first test image of class (digit) A and of class B instead")
    p.add_argument("--steps", type=positive, default=10, help="points from one code to the other (default 10)")
    p = command("retrieve", "nearest test images in latent space, and precision@K over the test set")
    p.add_argument("--queries", type=index_list, metavar="I,J,...",
                   help="query test image indices (default: the first test image of each of the first ten "
                   "classes; unlabelled data: the first ten images)")
    p.add_argument("--k", type=positive, default=5, help="neighbours per query (default 5)")
    p = command("latent-map", "2-D latents: decoded manifold over the prior's quantiles, and test means by class")
    p.add_argument("--n", type=positive, default=20, help="manifold grid size n x n (default 20)")
    p.add_argument("--label", type=int, default=0, choices=range(10), help="digit for conditional models")
    p = command("reconstruct", "test images above their reconstructions")
    p.add_argument("--n", type=positive, default=16, help="number of test images (default 16)")
    p = command("compare", "samples of this run beside samples of another run")
    p.add_argument("--with", dest="other", metavar="OTHER_RUN",
                   help="the other run directory (default: the sibling run named after the model's counterpart, "
                   "which train.py --list shows)")
    p.add_argument("--n", type=positive, default=64, help="samples per side (default 64)")
    p = command("conditional-grid", "conditional models: rows are digits 0-9, columns are codes")
    p.add_argument("--columns", type=positive, default=10, help="codes per row (default 10)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one explore command; returns the exit status (2 for bad input)."""
    args = build_parser().parse_args(argv)
    quiet_tensorflow()
    return report(lambda: HANDLERS[args.command](tfgen.load(args.run_dir, args.data_dir), args))
