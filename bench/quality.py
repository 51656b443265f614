#!/usr/bin/env python3
"""Every model trained (or reused) on real data, evaluated the same way, in one Markdown table.

    python bench/quality.py --data-dir DIR
    python bench/quality.py --dataset CIFAR_DIR --models vae,cvae,dcgan,cgan --epochs 10,dcgan=5 --k 20 \
        --table docs/quality-cifar10.md
    python bench/quality.py --dataset CIFAR_DIR --models diffusion --steps-curve 10,20,50,100

DIR is a folder holding the full MNIST's ``mnist.npz``; ``--dataset`` takes
what ``train.py --dataset`` takes (CIFAR_DIR: the CIFAR-10 images in
``train/CLASS`` and ``test/CLASS`` folders).

For each model, ``--runs/MODEL-DATA`` (DATA: ``mnist``, the data set's name, or
the folder's or file's own name; the toy GAN: ``MODEL-ring``) is reused
when it holds a finished run of that model, else trained there with
``train.py MODEL`` at its default epochs (or ``--epochs``): continued with
``--resume`` when it holds an unfinished run of that model (so a long run can
be trained over several sittings by raising ``--epochs``), else afresh. Each run is then
evaluated with ``tfgen.evaluation`` (and its evaluation.json written), and
a small gallery is written to ``--gallery``: the last sample grid and a
progress GIF per model (``MODEL.png``, or ``MODEL-DATA.png`` off MNIST),
downscaled so each file stays well under 1 MB.
Prints the table and writes it to ``--table``; with ``--steps-curve``, a second
table of each diffusion model's Fréchet distance against its sampling steps.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import tfgen  # noqa: E402
from tfgen import classifier as classifier_lib  # noqa: E402
from tfgen import config as config_lib  # noqa: E402
from tfgen import data, evaluation, images, registry  # noqa: E402
from tfgen.files import write_text  # noqa: E402
from tfgen.rundir import RunDir, read_metrics  # noqa: E402

GALLERY_WIDTH = 240  # pixels
GALLERY_FRAMES = 12


def data_tag(dataset: str) -> str:
    """``mnist``, ``cifar10``, or a folder's or file's own name (``flowers``, ``faces``)."""
    return Path(dataset).stem if data.is_path(dataset) else dataset


def run_dir_for(runs: Path, name: str, dataset: str) -> Path:
    return runs / (f"{name}-ring" if registry.get(name).has("points") else f"{name}-{data_tag(dataset)}")


def epochs_for(spec: str | None, name: str) -> int | None:
    """``--epochs``: ``N`` for every model, ``MODEL=N`` for one, comma-separated (``10,dcgan=5``)."""
    found = None
    for part in (spec or "").split(","):
        model, sep, n = part.rpartition("=")
        if part and (not sep or model == name):
            found = int(n)
    return found


def finished(run_dir: Path, name: str, epochs: int | None) -> bool:
    """A complete run of ``name`` (its configured epochs all in metrics.csv, the SavedModel written)."""
    if not (run_dir / "config.json").is_file() or not (run_dir / "saved_model").is_dir():
        return False
    config = config_lib.load(run_dir / "config.json")
    want = epochs or config_lib.model_defaults(name)["epochs"]
    return config.model == name and config.epochs == want and len(read_metrics(run_dir)) == want


def resumable(run_dir: Path, name: str) -> bool:
    """Whether ``run_dir`` holds an unfinished run of ``name`` with a checkpoint to continue from."""
    return ((run_dir / "checkpoints" / "checkpoint").is_file() and (run_dir / "config.json").is_file()
            and config_lib.load(run_dir / "config.json").model == name)


def train(run_dir: Path, name: str, data_dir: str | None, dataset: str, epochs: int | None) -> None:
    args = [sys.executable, str(REPO / "train.py"), name, "--out", str(run_dir)]
    if not registry.get(name).has("points"):
        args += ["--dataset", dataset] + (["--data-dir", data_dir] if data_dir else [])
    if epochs:
        args += ["--epochs", str(epochs)]
    if resumable(run_dir, name):
        args.append("--resume")  # a long run trained in parts: continued to its epochs, not thrown away
    elif run_dir.exists():
        args.append("--overwrite")
    print("$", " ".join(args), flush=True)
    subprocess.run(args, check=True)


def shrink(image: Image.Image) -> Image.Image:
    scale = GALLERY_WIDTH / image.width
    return image.resize((GALLERY_WIDTH, max(1, round(image.height * scale))), Image.LANCZOS)


def gallery(run_dir: Path, name: str, folder: Path, epochs: int) -> None:
    """``folder/NAME.png`` (the last grid) and ``folder/NAME.gif`` (progress), both downscaled (NAME: a file name)."""
    folder.mkdir(parents=True, exist_ok=True)
    with Image.open(RunDir(run_dir).grid(epochs)) as last:
        shrink(last.convert("RGB" if last.mode in ("RGBA", "P") else last.mode)).save(folder / f"{name}.png")
    indices = images.gif_frame_indices(epochs + 1)
    if len(indices) > GALLERY_FRAMES:  # evenly thinned, the first and the (repeated) last kept
        keep = np.unique(np.linspace(0, len(indices) - 2, GALLERY_FRAMES - 1).round().astype(int))
        indices = [indices[i] for i in keep] + [indices[-1]] * 2

    def frames():
        for i in indices:
            with Image.open(RunDir(run_dir).grid(i)) as frame:
                yield shrink(frame.convert("RGB") if frame.mode in ("RGBA", "P") else frame)

    images.write_frames(folder / f"{name}.gif", frames(), duration=0.25)


def made_since_checkpoint(path: Path, run_dir: Path) -> bool:
    """Whether ``path`` (an evaluation of the run) exists and was written after the run's newest checkpoint."""
    return path.is_file() and path.stat().st_mtime >= (run_dir / "checkpoints" / "checkpoint").stat().st_mtime


def reusable_evaluation(run_dir: Path, args: argparse.Namespace) -> dict | None:
    """The run's evaluation.json (this script's, or ``tfgen evaluate``'s) when it was made for the same
    checkpoint, number of samples, K and classifier."""
    path = run_dir / "evaluation.json"
    if not made_since_checkpoint(path, run_dir):
        return None
    result = json.loads(path.read_text())
    same_classifier = "classifier" not in result or result["classifier"] == classifier_info(args)
    same_samples = result.get("samples", {}).get("num_samples", args.num_samples) == args.num_samples
    same_k = result.get("likelihood", {}).get("k", args.k) == args.k
    return result if same_classifier and same_samples and same_k else None


def classifier_info(args: argparse.Namespace) -> dict | None:
    """The cached classifier of the data the image models were trained on."""
    path = classifier_path(args.dataset, args.data_dir)
    return json.loads(path.read_text()) if path.is_file() else None


@functools.lru_cache
def classifier_path(dataset: str, data_dir: str | None) -> Path:
    return classifier_lib.classifier_dir(data.load(dataset, data_dir)) / "info.json"  # loads the data once


def gallery_table(names: list[str], folder: Path, table: Path) -> str:
    """Markdown: each model's last grid and progress GIF, linked relative to the table's folder."""
    rel = Path(os.path.relpath(folder, table.parent)).as_posix()
    rows = [f"| `{n}` | ![{n}, last epoch]({rel}/{n}.png) | ![{n}, progress]({rel}/{n}.gif) |" for n in names]
    return "\n".join(["| model | last epoch | progress |", "|---|---|---|", *rows])


def fmt(value, digits: int = 2, se=None) -> str:
    if value is None:
        return "–"
    text = f"{value:.{digits}f}"
    return f"{text} ± {se:.{digits}f}" if se is not None else text


def row(name: str, run_dir: Path, result: dict) -> str:
    rows = read_metrics(run_dir)
    seconds = sum(float(r["seconds"]) for r in rows)
    lk, s, m = result.get("likelihood", {}), result.get("samples", {}), result.get("modes")
    cells = [f"`{name}`", str(result["epochs"]), f"{seconds:,.0f}",
             fmt(lk.get("elbo")), fmt(lk.get("iwae")),
             fmt(s.get("frechet_distance"), 2), fmt(s.get("kernel_distance"), 4, s.get("kernel_distance_se")),
             fmt(s.get("classifier_score")), fmt(s.get("class_coverage"), 3), fmt(s.get("label_accuracy"), 3)]
    if m:
        cells[5] = f"modes {int(m['modes_covered'])}/{m['num_modes']}, high quality {m['high_quality']:.2f}"
    return "| " + " | ".join(cells) + " |"


def steps_curve(args: argparse.Namespace, names: list[str]) -> str:
    """Markdown: each model's Fréchet distance (± its standard error) at each number of ``--steps-curve`` sampling
    steps, from ``--curve-samples`` samples; each point kept in the run's ``evaluation-steps-N.json`` and reused
    while the checkpoint is unchanged and the number of samples the same."""
    counts = [int(n) for n in args.steps_curve.split(",")]
    lines = ["| model | " + " | ".join(f"{n} steps" for n in counts) + " |", "|---|" + "---:|" * len(counts)]
    for name in names:
        run_dir = run_dir_for(Path(args.runs), name, args.dataset)
        cells = []
        for steps in counts:
            path = run_dir / f"evaluation-steps-{steps}.json"
            result = json.loads(path.read_text()) if made_since_checkpoint(path, run_dir) else None
            if result is None or result["samples"]["num_samples"] != args.curve_samples:
                start = time.perf_counter()
                result = evaluation.evaluate(tfgen.load(run_dir, args.data_dir), args.curve_samples, steps=steps)
                result["seconds"] = time.perf_counter() - start
                write_text(path, json.dumps(result, indent=2) + "\n")
            s = result["samples"]
            cells.append(fmt(s["frechet_distance"], 2, s.get("frechet_distance_se")))
            print(f"{name}: {steps} steps, Fréchet distance {cells[-1]} ({result['seconds']:.0f} s)", flush=True)
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    fewer = "; fewer than the table above, so the distances run higher" if args.curve_samples < args.num_samples else ""
    return (f"\nFréchet distance against DDIM sampling steps ({args.curve_samples:,} samples against as many real "
            f"test images{fewer}):\n\n"
            + "\n".join(lines) + "\n")


HEADER = ("| model | epochs | train s | test ELBO | test IWAE | Fréchet dist. | kernel dist. | classifier score "
          "| coverage | label acc. |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", metavar="DIR", help="folder with the real mnist.npz (or fashion-mnist.npz, ...)")
    parser.add_argument("--dataset", default="mnist", metavar="NAME|PATH", help="as train.py's (default: mnist)")
    parser.add_argument("--models", default="all", help="comma-separated names, or all (default)")
    parser.add_argument("--runs", default="runs", metavar="DIR", help="where runs are found or trained")
    parser.add_argument("--epochs", help="train this many epochs instead of each model's default: N, or MODEL=N, "
                        "comma-separated (10,dcgan=5)")
    parser.add_argument("--num-samples", type=int, default=10_000, metavar="N")
    parser.add_argument("--k", type=int, default=100, metavar="K", help="importance samples for the IWAE bound")
    parser.add_argument("--steps-curve", metavar="N,N,...", help="models that sample in steps (diffusion): also "
                        "their Fréchet distance at each of these numbers of sampling steps, in a table of its own")
    parser.add_argument("--curve-samples", type=int, default=2_000, metavar="N",
                        help="samples scored per point of --steps-curve (default 2,000)")
    parser.add_argument("--gallery", default="docs/gallery", metavar="DIR")
    parser.add_argument("--table", default="docs/quality.md", metavar="FILE")
    args = parser.parse_args()
    names = registry.names() if args.models == "all" else args.models.split(",")
    if args.dataset != "mnist":
        names = [n for n in names if not registry.get(n).has("points")]
    suffix = "" if args.dataset == "mnist" else f"-{data_tag(args.dataset)}"
    lines, denoising = [], []
    for name in names:
        run_dir = run_dir_for(Path(args.runs), name, args.dataset)
        epochs = epochs_for(args.epochs, name)
        if not finished(run_dir, name, epochs):
            train(run_dir, name, args.data_dir, args.dataset, epochs)
        start = time.perf_counter()
        result = reusable_evaluation(run_dir, args)
        if result is None:
            data_dir = None if registry.get(name).has("points") else args.data_dir
            result = evaluation.evaluate(tfgen.load(run_dir, data_dir), args.num_samples, args.k)
            result["settings"] = {"num_samples": args.num_samples, "k": args.k}
            write_text(run_dir / "evaluation.json", json.dumps(result, indent=2) + "\n")
        gallery(run_dir, name + suffix, Path(args.gallery), result["epochs"])
        lines.append(row(name, run_dir, result))
        if "denoising" in result:
            d = result["denoising"]
            denoising.append(f"`{name}` {d['loss']:.4f} ± {d['loss_se']:.4f} ({d['kind']} of the predicted "
                             f"{d['target']}, sampled in {result['steps']} steps)")
        print(f"{name}: evaluated in {time.perf_counter() - start:.0f} s", flush=True)
    curve = steps_curve(args, [n for n in names if registry.get(n).has("steps")]) if args.steps_curve else ""
    clf = classifier_info(args)
    shown = [n + suffix for n in names]
    table = "\n".join([HEADER, *lines]) + "\n\n" + gallery_table(shown, Path(args.gallery), Path(args.table)) + (
        f"\n\nReference classifier: test accuracy {clf['test_accuracy']:.2%} on {clf['dataset']} "
        f"({clf['source']}). Scores on {args.num_samples:,} samples against as many real test images; "
        f"IWAE with K = {args.k}." + (" Test denoising loss: " + "; ".join(denoising) + "." if denoising else "")
        + "\n") + curve
    write_text(args.table, table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
