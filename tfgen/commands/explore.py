"""``tfgen explore COMMAND RUN_DIR``: latent-space tools for a finished (or running) run directory.

    python -m tfgen.explore COMMAND RUN_DIR [options]      (or: tfgen explore ...)

Commands: interpolate, retrieve, latent-map, reconstruct, compare,
conditional-grid, and for a model that samples in steps (a diffusion model)
steps and trajectory. Each loads the model from the run's newest checkpoint and
the data the run was trained on (from its config.json), writes PNGs (and GIFs)
into ``RUN_DIR/explore/`` and prints where.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

import numpy as np

import tfgen
from tfgen import images, latent
from tfgen.api import Run
from tfgen.commands.common import positive, report
from tfgen.data import to_float
from tfgen.errors import BadInputError
from tfgen.rundir import RunDir


class ExploreError(BadInputError):
    """A command that cannot run on this run directory; the message says why."""


def test_data(run: Run) -> tuple[np.ndarray, np.ndarray]:
    """The run's test images as its model takes them, and their labels."""
    ds = run.dataset()
    return to_float(ds.x_test, run.model.input_range), ds.y_test


def labelled(run: Run) -> bool:
    """Whether the run's data has labels (class folders, y_train)."""
    return bool(run.settings.num_classes)


def output(run: Run, name: str) -> Path:
    """A path in ``RUN_DIR/explore/`` (created on first use)."""
    folder = RunDir(run.path).explore
    folder.mkdir(exist_ok=True)
    return folder / name


def check_index(index: int, n: int, flag: str) -> int:
    if not 0 <= index < n:
        raise ExploreError(f"{flag} {index} is out of range; the test set has images 0..{n - 1}")
    return index


def save(path: Path, grid: np.ndarray) -> None:
    images.write_png(path, grid)
    print(f"wrote {path}")


# ----- the commands: each parses, calls the library, saves and prints -----


def interpolate(run: Run, args: argparse.Namespace) -> None:
    """Decodes evenly spaced points between the codes of two test images: a strip PNG and a there-and-back GIF."""
    run.require("encoder", "interpolate")
    x, y = test_data(run)
    if args.classes:
        a, b = (latent.first_of_class(y, latent.check_class(c, run.settings.num_classes, "--classes"))
                for c in args.classes)
    else:
        a = check_index(args.from_index, len(x), "--from")
        if args.to_index is None:  # the first test image of another class than --from's, so the two differ
            others = np.flatnonzero(y != y[a])
            args.to_index = int(others[0]) if len(others) else (a + 1) % len(x)
        b = check_index(args.to_index, len(x), "--to")
    decoded = run.interpolate(x[[a, b]], y[[a, b]], args.steps)
    strip = np.concatenate([x[a : a + 1], decoded, x[b : b + 1]])
    name = f"interpolate_{a}_{b}"
    save(output(run, f"{name}.png"), images.tile(strip, 1, len(strip)))
    frames = [images.tile(img[None], 1, 1, pad=0, scale=6) for img in decoded]
    images.write_frames(output(run, f"{name}.gif"), frames + frames[-2:0:-1], duration=0.12)
    classes = f", classes {y[a]} -> {y[b]}" if labelled(run) else ""
    print(f"wrote {output(run, name + '.gif')} (test images {a} -> {b}{classes}, {args.steps} steps)")


def retrieve(run: Run, args: argparse.Namespace) -> None:
    """Nearest test images by distance between latent means; precision@K over the whole test set."""
    run.require("encoder", "retrieve")
    x, y = test_data(run)
    k = args.k
    found = latent.neighbours(run.encode(x, y), k)
    if args.queries:
        queries = args.queries
    elif labelled(run):  # the first image of each of the first ten classes
        queries = [latent.first_of_class(y, c) for c in range(10) if np.any(y == c)]
    else:
        queries = list(range(min(10, len(x))))
    queries = [check_index(q, len(x), "--queries") for q in queries]
    rows = np.concatenate([np.concatenate([x[q : q + 1], x[found[q]]]) for q in queries])
    save(output(run, f"retrieve_k{k}.png"), images.tile(rows, len(queries), k + 1))
    if not labelled(run):
        print(f"no precision@{k}: the run's data has no labels to compare neighbours by")
        return
    precision = latent.precision_at_k(found, y)
    print(f"precision@{k} over all {len(x)} test images (share of neighbours with the query's class): {precision:.4f}")


def latent_map(run: Run, args: argparse.Namespace) -> None:
    """For a 2-D latent: decode a grid of z over the prior's quantiles, and scatter the test means by class."""
    manifold = run.latent_grid(args.n, args.label)
    save(output(run, "latent_manifold.png"), images.tile(manifold, args.n, args.n, pad=0, scale=2))
    if run.model.has("encoder"):
        x, y = test_data(run)
        plot_scatter(run.encode(x, y), y if labelled(run) else None, output(run, "latent_scatter.png"))


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
    run.require("encoder", "reconstruct")
    x, y = test_data(run)
    n = min(args.n, len(x))
    recon = run.reconstruct(x[:n], y[:n])
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
    codes = latent.shared_codes([run.model, other.model], n, args.seed)
    panels = [images.tile(r.generate(z), cols, cols) for r, z in zip((run, other), codes)]
    path = output(run, f"compare_{run.settings.model}_vs_{other.settings.model}.png")
    save(path, images.side_by_side(panels, gap=24))
    print(f"left: {run.path} ({run.settings.model}); right: {other.path} ({other.settings.model})")


def conditional_grid(run: Run, args: argparse.Namespace) -> None:
    """Conditional models: one row per class, labelled with its name, one column per code z."""
    grid = run.class_grid(args.columns, args.seed)
    save(output(run, "conditional_grid.png"),
         images.tile(grid, run.model.num_classes, args.columns, row_labels=run.class_names))


def steps(run: Run, args: argparse.Namespace) -> None:
    """The same noise sampled in each number of steps: a row per number, labelled."""
    grid = run.sample_in_steps(args.steps, args.n, args.seed)
    names = [f"{s} step{'s' if s > 1 else ''}" for s in args.steps]
    save(output(run, f"steps_{'_'.join(map(str, args.steps))}.png"),
         images.tile(grid.reshape(-1, *grid.shape[2:]), len(args.steps), args.n, row_labels=names))


def trajectory(run: Run, args: argparse.Namespace) -> None:
    """The clean images predicted along one sampling run, from the first steps (top) to the samples (bottom)."""
    total = args.steps or run.require("steps", "trajectory").steps
    path = run.trajectory(args.points, args.n, args.seed, total)
    names = [f"step {step}/{total}" for step in latent.trajectory_steps(len(path), total)]
    save(output(run, f"trajectory_{total}.png"),
         images.tile(path.reshape(-1, *path.shape[2:]), len(path), args.n, row_labels=names))


HANDLERS = {"interpolate": interpolate, "retrieve": retrieve, "latent-map": latent_map,
            "reconstruct": reconstruct, "compare": compare, "conditional-grid": conditional_grid, "steps": steps,
            "trajectory": trajectory}


def integers(what: str, example: str):
    """An argparse type: ``what`` (whole numbers) separated by commas, such as ``example``."""
    def parse(text: str) -> list[int]:
        try:
            return [int(v) for v in text.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(f"takes {what} separated by commas, such as {example}; got {text!r}") \
                from None

    return parse


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
    p.add_argument("--classes", "--digits", dest="classes", type=int, nargs=2, metavar=("A", "B"),
                   help="use the first test image of class A and of class B instead (--digits: the old name)")
    p.add_argument("--steps", type=positive, default=10, help="points from one code to the other (default 10)")
    p = command("retrieve", "nearest test images in latent space, and precision@K over the test set")
    p.add_argument("--queries", type=integers("test image indices", "0,5,9"), metavar="I,J,...",
                   help="query test image indices (default: the first test image of each of the first ten "
                   "classes; unlabelled data: the first ten images)")
    p.add_argument("--k", type=positive, default=5, help="neighbours per query (default 5)")
    p = command("latent-map", "2-D latents: decoded manifold over the prior's quantiles, and test means by class")
    p.add_argument("--n", type=positive, default=20, help="manifold grid size n x n (default 20)")
    p.add_argument("--label", type=int, default=0, help="the class a conditional model decodes (default 0)")
    p = command("reconstruct", "test images above their reconstructions")
    p.add_argument("--n", type=positive, default=16, help="number of test images (default 16)")
    p = command("compare", "samples of this run beside samples of another run")
    p.add_argument("--with", dest="other", metavar="OTHER_RUN",
                   help="the other run directory (default: the sibling run named after the model's counterpart, "
                   "which train.py --list shows)")
    p.add_argument("--n", type=positive, default=64, help="samples per side (default 64)")
    p = command("conditional-grid", "conditional models: one row per class, one column per code")
    p.add_argument("--columns", type=positive, default=10, help="codes per row (default 10)")
    p = command("steps", "diffusion models: the same noise sampled in 1, 2, 5, 10, 20 and 50 steps, a row each")
    p.add_argument("--steps", type=integers("numbers of steps", "1,5,20"), default=[1, 2, 5, 10, 20, 50],
                   metavar="A,B,...", help="the numbers of steps (default 1,2,5,10,20,50)")
    p.add_argument("--n", type=positive, default=8, help="draws of noise, a column each (default 8)")
    p = command("trajectory", "diffusion models: the clean image predicted along one sampling run")
    p.add_argument("--points", type=positive, default=6, help="points along the run, a row each (default 6)")
    p.add_argument("--steps", type=positive, help="sampling steps (default: the model's)")
    p.add_argument("--n", type=positive, default=8, help="draws of noise, a column each (default 8)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one explore command; returns the exit status (2 for bad input)."""
    args = build_parser().parse_args(argv)
    return report(lambda: HANDLERS[args.command](tfgen.load(args.run_dir, args.data_dir), args))
