import imageio.v3 as iio
import numpy as np
import pytest

from tfgen import images


def test_gif_frame_indices_follow_the_tutorial():
    # Kept when round(2*sqrt(i)) grows; the last frame is appended once more.
    assert images.gif_frame_indices(1) == [0, 0]
    assert images.gif_frame_indices(4) == [0, 1, 2, 3]  # rounds 0 2 3 3: i=3 dropped, then the last
    # 2*sqrt(i) rounds to 0 2 3 3 4 4 5 5 6 6 6 for i = 0..10
    assert images.gif_frame_indices(11) == [0, 1, 2, 4, 6, 8, 10]
    kept = images.gif_frame_indices(101)  # the tutorial's 100-epoch run
    assert kept[-1] == 100 and kept[-2] == 96  # the final frame is always shown
    assert len(kept) == 21


def test_tile_lays_out_images_row_major_without_rescaling():
    imgs = np.zeros((3, 28, 28, 1), np.float32)
    imgs[1] = 0.5
    grid = images.tile(imgs, 2, 2, pad=2, scale=1)
    assert grid.shape == (2 * 30 + 2, 2 * 30 + 2) and grid.dtype == np.uint8
    assert grid[2, 2] == 0  # image 0, top-left
    assert grid[2, 32] == 128  # image 1, top-right, value kept
    assert grid[32, 32] == 255  # empty 4th cell stays blank


def test_tile_keeps_colour_and_side_by_side_joins_grey_with_colour():
    imgs = np.zeros((2, 4, 6, 3), np.float32)
    imgs[0, ..., 0] = 1.0  # red
    grid = images.tile(imgs, 1, 2, pad=1, scale=1)
    assert grid.shape == (6, 15, 3) and grid[1, 1].tolist() == [255, 0, 0] and grid[1, 8].tolist() == [0, 0, 0]
    grey = images.tile(np.full((1, 3, 3, 1), 0.5, np.float32), 1, 1, pad=0, scale=1)
    row = images.side_by_side([grey, grid], gap=2)
    assert row.shape == (6, 3 + 2 + 15, 3)
    assert row[0, 0].tolist() == [128] * 3 and row[5, 0].tolist() == [255] * 3  # grey as RGB, padded white below
    assert row[1, 6].tolist() == [255, 0, 0]


def test_tile_refuses_too_many_images():
    with pytest.raises(ValueError, match="5 images do not fit a 2x2 grid"):
        images.tile(np.zeros((5, 28, 28, 1)), 2, 2)


def test_write_gif_streams_the_kept_frames(tmp_path):
    pngs = []
    for i in range(11):
        path = tmp_path / f"epoch_{i:04d}.png"
        images.write_png(path, np.full((20, 20), i * 20, np.uint8))
        pngs.append(path)
    n = images.write_gif(tmp_path / "progress.gif", pngs)
    frames = iio.imread(tmp_path / "progress.gif", index=None)
    assert n == len(frames) == len(images.gif_frame_indices(11))
    assert not list(tmp_path.glob(".*"))  # no temporary files left


def test_write_gif_keeps_gray_levels_and_colour_frames(tmp_path):
    gray = tmp_path / "g.png"
    images.write_png(gray, np.tile(np.arange(0, 256, 16, dtype=np.uint8), (4, 1)))
    images.write_gif(tmp_path / "g.gif", [gray])
    frame = iio.imread(tmp_path / "g.gif", index=0)
    frame = frame[..., 0] if frame.ndim == 3 else frame
    np.testing.assert_array_equal(frame[0], np.arange(0, 256, 16))

    colour = tmp_path / "c.png"
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[:, :4] = (255, 0, 0)
    rgb[:, 4:] = (0, 0, 255)
    images.write_png(colour, rgb)
    images.write_gif(tmp_path / "c.gif", [colour, colour])
    frames = iio.imread(tmp_path / "c.gif", index=None)
    assert len(frames) == 3  # both, then the last again
    np.testing.assert_array_equal(frames[1][0, 0, :3], (255, 0, 0))
    np.testing.assert_array_equal(frames[1][0, 7, :3], (0, 0, 255))


def test_the_gif_is_bounded_however_long_the_run_and_large_the_grid(tmp_path):
    kept = images.gif_frame_indices(1_000_001)  # a million epochs: the tutorial's rule keeps 2,001 frames
    assert len(kept) == images.MAX_GIF_FRAMES and kept[0] == 0 and kept[-1] == 1_000_000
    assert kept == sorted(kept)
    assert images.gif_frame_indices(301) == images.gif_frame_indices(301, limit=10**6)  # 300 epochs: as the tutorial
    pngs = []
    for i in range(3):  # grids larger than the GIF's frames, one of them not square
        path = tmp_path / f"epoch_{i:04d}.png"
        images.write_png(path, np.full((1500, 900, 3), 40 * i, np.uint8))
        pngs.append(path)
    images.write_gif(tmp_path / "progress.gif", pngs)
    frames = iio.imread(tmp_path / "progress.gif", index=None)
    assert frames.shape[1:3] == (images.MAX_GIF_SIDE, 384)  # 1500x900 shrunk to 640x384


def test_a_grid_enlarges_images_to_about_96_pixels():
    assert [images.grid_scale(s, s) for s in (8, 28, 32, 48, 64, 96, 256)] == [12, 3, 3, 2, 1, 1, 1]
    assert images.tile(np.zeros((4, 48, 40, 3)), 2, 2).shape == (2 * (2 * 50 + 2), 2 * (2 * 42 + 2), 3)
