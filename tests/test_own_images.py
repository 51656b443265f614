"""A user's own images: folders and npz files of any size, grey or colour, labelled or not (``tfgen.data``)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tfgen import data
from tfgen.data import DataError
from tfgen.data import folders
from tfgen.data.folders import IN_MEMORY_ENV
from tfgen.data.sources import conform

from conftest import class_folders, picture, write


def test_train_and_test_class_folders_give_the_split_and_the_labels(tmp_path):
    class_folders(tmp_path, 4, split="train")
    class_folders(tmp_path, 2, split="test")
    (tmp_path / "train" / "cat" / "notes.txt").write_text("not an image")  # other files are ignored
    ds = data.load(str(tmp_path) + "/")
    assert ds.class_names == ("cat", "dog", "fox") and ds.num_classes == 3
    assert ds.x_train.shape == (12, 8, 8, 3) and ds.x_test.shape == (6, 8, 8, 3)
    assert ds.y_train.tolist() == [0] * 4 + [1] * 4 + [2] * 4 and ds.y_test.tolist() == [0, 0, 1, 1, 2, 2]
    np.testing.assert_array_equal(ds.x_train[4], picture(1, index=0))  # PNG is lossless


def test_every_keras_image_type_is_read_and_nested_class_folders_count(tmp_path):
    for i, fmt in enumerate(("png", "jpg", "bmp", "gif")):
        write(tmp_path / "a" / "deeper" / f"{i}.{fmt}", picture(0, index=i))
        write(tmp_path / "b" / f"{i}.{fmt.upper()}", picture(1, index=i))
    ds = data.load(str(tmp_path))
    assert len(ds.x_train) + len(ds.x_test) == 8 and ds.class_names == ("a", "b")


def test_class_folders_hold_out_a_seeded_tenth_of_each_class(tmp_path):
    class_folders(tmp_path, 20)
    ds = data.load(str(tmp_path))
    assert np.bincount(ds.y_test).tolist() == [2, 2, 2] and np.bincount(ds.y_train).tolist() == [18, 18, 18]
    again = data.load(str(tmp_path))
    np.testing.assert_array_equal(ds.x_test, again.x_test)  # the same share for every run
    quarter = data.load(str(tmp_path), test_fraction=0.25)
    assert np.bincount(quarter.y_test).tolist() == [5, 5, 5]


def test_images_directly_in_the_folder_are_unlabelled(tmp_path):
    for i in range(10):
        write(tmp_path / f"{i}.png", picture(0, index=i)[..., 0])  # grey
    ds = data.load(str(tmp_path))
    assert ds.num_classes == 0 and ds.class_names is None and ds.image_shape == (8, 8, 1)
    assert len(ds.x_test) == 1 and len(ds.x_train) == 9 and not ds.y_train.any()


def test_mixed_sizes_are_refused_naming_two_and_resized_with_image_size(tmp_path):
    write(tmp_path / "a" / "0.png", picture(0, (8, 8)))
    write(tmp_path / "a" / "1.png", picture(0, (12, 10)))
    write(tmp_path / "b" / "0.png", picture(1, (8, 8)))
    write(tmp_path / "b" / "1.png", picture(1, (8, 8), 1))
    with pytest.raises(DataError, match=r"images of different sizes \(8x8 and 12x10, HxW\); pass --image-size"):
        data.load(str(tmp_path))
    ds = data.load(str(tmp_path), image_size=(16, 12))
    assert ds.image_shape == (16, 12, 3)


def test_channels_convert_colour_to_grey_as_pil_does_and_grey_to_colour(tmp_path):
    class_folders(tmp_path, 3)
    grey = data.load(str(tmp_path), channels=1)
    colour = data.load(str(tmp_path))
    expected = np.asarray(Image.fromarray(colour.x_train[0]).convert("L"))
    np.testing.assert_array_equal(grey.x_train[0, ..., 0], expected)
    back = conform(grey, None, 3)
    assert back.image_shape == (8, 8, 3) and (back.x_train[..., 0] == back.x_train[..., 2]).all()


def test_unreadable_and_truncated_files_are_skipped_with_one_counting_warning(tmp_path, capsys):
    class_folders(tmp_path, 5, ext="jpg")
    (tmp_path / "cat" / "broken.png").write_bytes(b"not a png at all")
    whole = (tmp_path / "dog" / "000.jpg").read_bytes()
    (tmp_path / "dog" / "cut.jpg").write_bytes(whole[: len(whole) // 2])
    ds = data.load(str(tmp_path))
    assert len(ds.x_train) + len(ds.x_test) == 15
    err = capsys.readouterr().err
    assert err.count("warning") == 1 and "skipped 2 of 17 image files" in err


def test_a_slow_load_shows_its_progress_and_a_quick_one_prints_nothing(tmp_path, monkeypatch, capsys):
    class_folders(tmp_path, 5)
    data.load(str(tmp_path))
    assert capsys.readouterr().out == ""
    monkeypatch.setattr(folders, "PROGRESS_AFTER_S", -1.0)  # as if each pass had run past the delay
    data.load(str(tmp_path))
    out = capsys.readouterr().out
    assert f"tfgen: reading the sizes of 15 image files in {tmp_path}" in out
    assert f"tfgen: decoding 15 image files in {tmp_path}" in out and "15/15" in out


@pytest.mark.parametrize("make, message", [
    (lambda root: None, "no image files"),
    (lambda root: (root / "x.png").write_bytes(b"junk"), "no readable image among its 1 image files"),
    (lambda root: (write(root / "a" / "0.png", picture(0)), write(root / "1.png", picture(0))),
     "holds both image files and class folders"),
    (lambda root: (root / "a").mkdir(), "class folder without image files"),
])
def test_folders_without_usable_images_are_refused_with_the_path(tmp_path, make, message):
    root = tmp_path / "pictures"
    root.mkdir()
    make(root)
    with pytest.raises(DataError, match=message) as raised:
        data.load(str(root))
    assert "pictures" in str(raised.value)


def test_a_missing_path_and_a_file_that_is_not_npz_are_named(tmp_path):
    with pytest.raises(DataError, match="no such file or directory"):
        data.load(str(tmp_path / "nowhere"))
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(DataError, match=r"x\.txt: not a folder or an \.npz file"):
        data.load(str(tmp_path / "x.txt"))


def test_a_value_with_a_separator_or_npz_is_a_path():
    assert data.is_path("./flowers") and data.is_path("faces.npz") and data.is_path("/x")
    assert not data.is_path("cifar10") and not data.is_path("mnist")


def test_a_large_folder_is_streamed_from_disk_with_the_same_batches(tmp_path, monkeypatch):
    class_folders(tmp_path, 10)
    held = data.load(str(tmp_path))
    monkeypatch.setenv(IN_MEMORY_ENV, "0.001")  # 1 KiB: smaller than the folder
    streamed = data.load(str(tmp_path))
    assert streamed.streamed and not held.streamed
    assert isinstance(streamed.x_train, data.ImageFiles) and streamed.x_train.shape == held.x_train.shape
    np.testing.assert_array_equal(streamed.x_test[:2], held.x_test[:2])
    np.testing.assert_array_equal(np.asarray(streamed.take_train(5).x_train), held.x_train[:5])
    for a, b in zip(data.pipeline(held.x_train, held.y_train, 7, "tanh", shuffle=True, seed=3),
                    data.pipeline(streamed.x_train, streamed.y_train, 7, "tanh", shuffle=True, seed=3)):
        np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
        np.testing.assert_array_equal(a[1].numpy(), b[1].numpy())


def test_npz_of_colour_arrays_without_labels_or_test_split(tmp_path):
    x = np.stack([picture(i % 3, (12, 16), i) for i in range(20)])
    np.savez(tmp_path / "faces.npz", x_train=x)
    ds = data.load(str(tmp_path / "faces.npz"))
    assert ds.image_shape == (12, 16, 3) and ds.num_classes == 0
    assert len(ds.x_train) == 18 and len(ds.x_test) == 2
    labelled = tmp_path / "labelled.npz"
    np.savez(labelled, x_train=x, y_train=np.arange(20) % 4)
    ds = data.load(str(labelled), image_size=(8, 8), channels=1)
    assert ds.num_classes == 4 and ds.image_shape == (8, 8, 1) and np.bincount(ds.y_test).tolist() == [1] * 4


@pytest.mark.parametrize("arrays, message", [
    ({"x_train": np.zeros((4, 8, 8, 4), np.uint8)}, r"x_train must be uint8 of shape \(N, H, W\) or \(N, H, W, C\) "
                                                    r"with C 1 or 3; got uint8 \(4, 8, 8, 4\)"),
    ({"x_train": np.zeros((4, 8), np.uint8)}, r"got uint8 \(4, 8\)"),
    ({"x_train": np.zeros((4, 8, 8), np.uint8), "y_test": np.zeros(4, np.int64)}, "has y_test but no x_test"),
    ({"images": np.zeros((4, 8, 8), np.uint8)}, "missing key x_train"),
    ({"x_train": np.zeros((4, 8, 8), np.uint8), "y_train": np.zeros(4, np.float32)}, "y_train must be integer"),
    ({"x_train": np.zeros((2, 8, 8), np.uint8), "y_train": np.array([0, 2**63], np.uint64)},
     r"y_train labels must be class numbers from 0 to 9,999 \(at most 10,000 classes\); got 9,223,372,036,854,775,808"),
    ({"x_train": np.zeros((2, 8, 8), np.uint8), "y_train": np.array([0, 10**9])},
     r"y_train labels must be class numbers from 0 to 9,999 \(at most 10,000 classes\); got 1,000,000,000"),
    ({"x_train": np.zeros((2, 8, 8), np.uint8), "y_train": np.array([0, -3], np.int8)}, "got -3"),
])
def test_npz_with_wrong_keys_shapes_or_dtypes_is_refused(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=message):
        data.load(str(tmp_path / "bad.npz"))


def test_a_built_in_set_keeps_its_classes_whatever_its_file_holds(tmp_path):
    arrays = {"x_train": np.zeros((4, 28, 28), np.uint8), "y_train": np.array([0, 1, 2, 12]),
              "x_test": np.zeros((2, 28, 28), np.uint8), "y_test": np.array([0, 1])}
    np.savez(tmp_path / "mnist.npz", **arrays)
    with pytest.raises(DataError, match=r"mnist.npz: y_train labels must be class numbers from 0 to 9 \(the 10 "
                                        r"classes of mnist\); got 12"):
        data.load("mnist", tmp_path)
    np.savez(tmp_path / "twelve.npz", **arrays)  # the same arrays as a path: their own 13 classes
    assert data.load(str(tmp_path / "twelve.npz")).num_classes == 13


def test_cifar10_offline_says_what_it_looked_for(monkeypatch, tmp_path):
    import keras

    def offline():
        raise Exception("URL fetch failure on https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz: no network")

    monkeypatch.setattr(keras.datasets.cifar10, "load_data", offline)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(DataError, match=r"could not load CIFAR-10: keras.datasets.cifar10 found no .*"
                                        r"cifar-10-batches-py and could not download it .*--data-dir DIR with "
                                        r"DIR/cifar10.npz, or --dataset DIR"):
        data.load("cifar10")


def test_cifar10_from_a_data_dir_npz(tmp_path):
    np.savez(tmp_path / "cifar10.npz", x_train=np.zeros((5, 32, 32, 3), np.uint8), y_train=np.arange(5),
             x_test=np.zeros((2, 32, 32, 3), np.uint8), y_test=np.arange(2))
    ds = data.load("cifar10", tmp_path)
    assert ds.image_shape == (32, 32, 3) and ds.num_classes == 5


def test_builtin_sets_resize_on_load(data_dir):
    ds = data.load("mnist", data_dir, image_size=(32, 32))
    assert ds.image_shape == (32, 32, 1) and ds.x_test.shape == (64, 32, 32, 1)
    np.testing.assert_array_equal(data.load("mnist", data_dir, image_size=(28, 28), channels=1).x_train,
                                  data.load("mnist", data_dir).x_train)  # nothing to change: the arrays as they are


# ----- what a folder may not hold (issue 22) -----


@pytest.mark.parametrize("link, target, message", [
    ("zz", ".", "class folder 'zz' links back to"),
    ("kitty", "cat", "class folders 'cat' and 'kitty' are one folder"),
])
def test_a_class_folder_that_links_back_into_the_data_set_is_refused(tmp_path, link, target, message):
    root = class_folders(tmp_path / "pets", 3)
    (root / link).symlink_to((root / target).resolve(), target_is_directory=True)
    with pytest.raises(DataError, match=message):
        data.load(str(root))


def test_an_image_over_pils_decompression_bomb_limit_is_skipped_with_the_count(tmp_path, capsys):
    import struct
    import zlib

    class_folders(tmp_path, 5)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 20_000, 20_000, 8, 0, 0, 0, 0)  # claims 20000x20000 grey: 400 million pixels
    (tmp_path / "cat" / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    ds = data.load(str(tmp_path))
    assert len(ds.x_train) + len(ds.x_test) == 15
    err = capsys.readouterr().err
    assert "skipped 1 of 16 image files" in err and "bomb.png" in err and "decompression bomb" in err


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "abc"])
def test_an_in_memory_limit_that_is_not_a_finite_size_is_refused(tmp_path, monkeypatch, value):
    class_folders(tmp_path, 2)
    monkeypatch.setenv(IN_MEMORY_ENV, value)
    with pytest.raises(DataError, match=rf"\$TFGEN_IN_MEMORY_MB='{value}' is not a number of MiB \(a finite number, "
                                        r"0 or more\)"):
        data.load(str(tmp_path))


@pytest.mark.parametrize("change, reason", [
    (lambda f: f.unlink(), "No such file or directory"),
    (lambda f: f.write_bytes(f.read_bytes()[:30]), "cannot identify image file"),
    (lambda f: write(f, picture(0, size=(10, 10))), "it is now 10x10x3, not 8x8x3 as when the run began"),
])
def test_a_streamed_file_that_changed_is_named_with_what_changed(tmp_path, monkeypatch, change, reason):
    from tfgen.errors import DataChangedError

    class_folders(tmp_path, 10)
    monkeypatch.setenv(IN_MEMORY_ENV, "0.001")
    ds = data.load(str(tmp_path))
    victim = ds.x_train.paths[3]
    change(Path(victim))
    ds.x_train[:3]  # the other files still read
    with pytest.raises(DataChangedError, match=f"^the image file {re.escape(victim)} changed while the run read it: "
                                               f"{reason}$"):
        ds.x_train[:5]
    assert ds.read_failure.path == victim  # found by training, where tf.data hides the exception
    assert [f.path for f in ds.x_train.failures] == [victim] and not ds.x_test.failures
