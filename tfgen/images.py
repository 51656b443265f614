"""Sample grids and the training-progress GIF."""

from __future__ import annotations

import os
from typing import Iterable, Sequence

import imageio.v2 as imageio
import numpy as np
from PIL import GifImagePlugin, Image

from tfgen.files import atomic_path


# A grid shows each image enlarged by a whole factor to about this many pixels (MNIST's 28 x 3, CIFAR-10's 32 x 3,
# 48 x 2); images this size or larger are shown as they are.
GRID_PIXELS = 96
PAD = 2  # blank pixels between a grid's images, before the enlargement


def grid_scale(height: int, width: int) -> int:
    """The whole factor a grid enlarges images of ``height`` x ``width`` by (:data:`GRID_PIXELS`)."""
    return max(1, GRID_PIXELS // max(height, width))


def tile(images: np.ndarray, rows: int, cols: int, row_labels: Sequence[str] | None = None, pad: int = PAD,
         scale: int | None = None) -> np.ndarray:
    """Tiles (N, H, W, C) images in [0, 1] into one uint8 grid image: (rows, cols) grey for C 1, RGB for C 3.

    Each image is enlarged by ``scale`` (default :func:`grid_scale`), with
    ``pad`` blank pixels between images before that. ``row_labels``: a name
    written left of each row (a class). Drawn with numpy rather than a
    matplotlib figure per epoch: it is exact (pixel values are not rescaled
    per image), far cheaper, and leaks nothing. Missing cells
    (N < rows * cols) stay blank (white).
    """
    images = np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0)
    n, h, w, channels = images.shape
    if n > rows * cols:
        raise ValueError(f"{n} images do not fit a {rows}x{cols} grid")
    grid = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad, channels), dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        grid[top : top + h, left : left + w] = images[i]
    scale = scale or grid_scale(h, w)
    grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    grid = np.round(grid * 255.0).astype(np.uint8)
    grid = grid[..., 0] if channels == 1 else grid
    return grid if row_labels is None else _labelled(grid, list(row_labels), scale * (h + pad), scale * pad)


def _labelled(grid: np.ndarray, labels: list[str], row_height: int, top: int) -> np.ndarray:
    """``grid`` with a white column on its left holding each row's label, centred on the row."""
    from PIL import ImageDraw, ImageFont

    font = ImageFont.load_default(size=max(10, min(24, row_height // 3)))
    width = max(int(font.getlength(label)) for label in labels) + 2 * PAD + 6
    image = Image.new(Image.fromarray(grid).mode, (grid.shape[1] + width, grid.shape[0]), "white")
    image.paste(Image.fromarray(grid), (width, 0))
    draw = ImageDraw.Draw(image)
    for r, label in enumerate(labels):
        draw.text((width - 4, top + r * row_height + (row_height - top) // 2), label, fill="black", font=font,
                  anchor="rm")
    return np.asarray(image)


def side_by_side(panels: Sequence[np.ndarray], gap: int = 24) -> np.ndarray:
    """uint8 images (grey or RGB, of any heights) in one row, top-aligned, white around and between them."""
    colour = any(p.ndim == 3 for p in panels)
    panels = [np.repeat(p[..., None], 3, axis=2) if colour and p.ndim == 2 else p for p in panels]
    height = max(p.shape[0] for p in panels)
    row = []
    for i, p in enumerate(panels):
        padded = np.full((height, p.shape[1] + (gap if i else 0), *p.shape[2:]), 255, np.uint8)
        padded[: p.shape[0], (gap if i else 0):] = p
        row.append(padded)
    return np.concatenate(row, axis=1)


def write_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Writes a uint8 image as PNG, atomically."""
    with atomic_path(path) as tmp:
        imageio.imwrite(tmp, image, format="PNG")


# progress.gif's bounds, whatever the run's length and grid: at most this many frames, each at most this many
# pixels on its longer side (larger grids are shrunk), so at most 40 x 640 x 640 bytes before compression (16 MB).
MAX_GIF_FRAMES = 40
MAX_GIF_SIDE = 640


def gif_frame_indices(n: int, limit: int = MAX_GIF_FRAMES) -> list[int]:
    """Indices of the frames the TensorFlow tutorial keeps out of ``n``, at most ``limit`` of them.

    Frame ``i`` is kept when round(2 * sqrt(i)) grows, so early epochs, where
    the samples change fastest, get more frames; the last frame is then
    repeated so that it shows longer. A run so long that this keeps more than
    ``limit`` frames keeps an evenly spread share of them, the first and the
    last included.
    """
    kept, last = [], -1.0
    for i in range(n):
        frame = 2 * (i ** 0.5)
        if round(frame) > round(last):
            last = frame
            kept.append(i)
    if len(kept) > limit - 1:
        kept = [kept[j] for j in sorted(set(np.linspace(0, len(kept) - 1, limit - 1).round().astype(int)))]
    return kept + [n - 1] if n else []


def write_gif(path: str | os.PathLike, pngs: Sequence[str | os.PathLike], duration: float = 0.1) -> int:
    """The training-progress GIF: the tutorial's choice of frames out of the per-epoch PNGs, within
    :data:`MAX_GIF_FRAMES` frames of at most :data:`MAX_GIF_SIDE` pixels.

    Returns the number of frames written.
    """
    indices = gif_frame_indices(len(pngs))
    return write_frames(path, (_shrunk(_read_frame(pngs[i]), MAX_GIF_SIDE) for i in indices), duration)


def _shrunk(image: Image.Image, side: int) -> Image.Image:
    """``image`` scaled down (area-averaged) so that its longer side is at most ``side`` pixels."""
    scale = side / max(image.size)
    if scale >= 1:
        return image
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                        Image.Resampling.BOX)


def write_frames(path: str | os.PathLike, frames: Iterable[Image.Image | np.ndarray], duration: float = 0.1) -> int:
    """Writes an endlessly looping GIF one frame at a time; returns the number of frames.

    Pillow's own animated-GIF writer and imageio's (which uses it) keep every
    frame until the file is closed, so each frame is encoded here with
    Pillow's per-frame GIF encoder (``GifImagePlugin.getheader``/``getdata``)
    and written at once: memory stays at one frame however many there are.
    Grayscale frames share one gray palette; colour frames get their own.
    """
    ms = int(round(duration * 1000))
    count = 0
    with atomic_path(path) as tmp, open(tmp, "wb") as fp:
        for frame in frames:
            image = Image.fromarray(frame) if isinstance(frame, np.ndarray) else frame
            gray = image.mode in ("L", "LA", "I", "I;16")
            image = image.convert("L") if gray else image.convert("RGB").quantize(256)
            if count == 0:
                header, _ = GifImagePlugin.getheader(image, info={"loop": 0, "duration": ms})
                fp.write(b"".join(header))
            for chunk in GifImagePlugin.getdata(image, duration=ms, include_color_table=not gray):
                fp.write(chunk)
            count += 1
        fp.write(b";")  # GIF trailer
    return count


def read_png(path: str | os.PathLike) -> np.ndarray:
    """A PNG as a uint8 array: (H, W) grey or (H, W, 3|4) colour."""
    return np.asarray(_read_frame(path))


def _read_frame(path: str | os.PathLike) -> Image.Image:
    with Image.open(path) as png:
        png.load()
        return png.copy()


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | os.PathLike) -> None:
    """Saves a matplotlib figure as PNG, atomically, and closes it so no figure leaks."""
    try:
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
    finally:
        pyplot().close(fig)


def scatter_frame(real: np.ndarray, fake: np.ndarray, limits: tuple[float, float, float, float],
                  surface: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None, title: str = "") -> np.ndarray:
    """A 2-D GAN frame: real and generated points on fixed axes over D's decision surface.

    Args:
        real, fake: (N, 2) points.
        limits: (xmin, xmax, ymin, ymax), the same for every frame so a GIF does not jump.
        surface: (xs, ys, probability) on a mesh, drawn as a filled contour.
    Returns:
        An RGB uint8 image.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    try:
        if surface is not None:
            ax.contourf(*surface, levels=np.linspace(0.0, 1.0, 11), cmap="coolwarm", alpha=0.35)
        ax.scatter(real[:, 0], real[:, 1], s=2, c="tab:blue", label="real")
        ax.scatter(fake[:, 0], fake[:, 1], s=2, c="tab:orange", label="generated")
        ax.set_xlim(limits[0], limits[1])
        ax.set_ylim(limits[2], limits[3])
        ax.set_aspect("equal")
        ax.legend(loc="upper right", fontsize=7, markerscale=4)
        ax.set_title(title, fontsize=9)
        fig.tight_layout()
        fig.canvas.draw()
        return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    finally:
        plt.close(fig)
