"""Fashion-MNIST IDX reading: synthetic good and broken files, and the real data."""

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from dualsym.errors import InputError
from dualsym.training import data as fmnist_data
from dualsym.training.data import (
    IMAGE_MAGIC,
    LABEL_MAGIC,
    PIXEL_MEAN,
    PIXEL_STD,
    load_fashion_mnist,
    read_idx,
    resolve_data_dir,
)


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    header = magic.to_bytes(4, "big")
    for size in array.shape:
        header += int(size).to_bytes(4, "big")
    return header + array.astype(np.uint8).tobytes()


def write_split(folder: Path, split: str, images: np.ndarray, labels: np.ndarray):
    image_name, label_name = fmnist_data.SPLIT_FILES[split]
    (folder / image_name).write_bytes(gzip.compress(idx_bytes(images, IMAGE_MAGIC)))
    (folder / label_name).write_bytes(gzip.compress(idx_bytes(labels, LABEL_MAGIC)))


def write_dataset(folder: Path, train: int = 12, test: int = 5) -> None:
    rng = np.random.default_rng(0)
    for split, count in (("train", train), ("test", test)):
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=count, dtype=np.uint8)
        write_split(folder, split, images, labels)


def test_synthetic_files_load_and_normalize(tmp_path):
    write_dataset(tmp_path)
    loaded = load_fashion_mnist(tmp_path)
    raw = read_idx(tmp_path / "train-images-idx3-ubyte.gz", IMAGE_MAGIC)

    assert loaded.train_images.shape == (12, 784)
    assert loaded.test_images.shape == (5, 784)
    assert loaded.train_labels.dtype == torch.int64
    expected = (raw.reshape(12, -1) / 255.0 - PIXEL_MEAN) / PIXEL_STD
    assert np.allclose(loaded.train_images.numpy(), expected, atol=1e-6)


def test_limits_keep_first_samples(tmp_path):
    write_dataset(tmp_path)
    full = load_fashion_mnist(tmp_path)
    limited = load_fashion_mnist(tmp_path, train_limit=4, test_limit=3)

    assert limited.train_images.shape == (4, 784)
    assert limited.test_labels.shape == (3,)
    assert torch.equal(limited.train_labels, full.train_labels[:4])


def test_uncompressed_file_reads(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(idx_bytes(labels, LABEL_MAGIC))

    assert np.array_equal(read_idx(path, LABEL_MAGIC), labels)


def test_wrong_magic_names_file(tmp_path):
    write_dataset(tmp_path)
    labels = np.zeros(12, dtype=np.uint8)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(labels, IMAGE_MAGIC)))

    with pytest.raises(InputError) as error:
        load_fashion_mnist(tmp_path)
    assert "train-labels-idx1-ubyte.gz" in str(error.value)
    assert "magic number 0x00000803" in str(error.value)


def test_truncated_body_is_reported(tmp_path):
    write_dataset(tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    content = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(content[:-100]))

    with pytest.raises(InputError) as error:
        load_fashion_mnist(tmp_path)
    assert "t10k-images-idx3-ubyte.gz" in str(error.value)
    assert "truncated" in str(error.value)


def test_truncated_gzip_stream_is_reported(tmp_path):
    write_dataset(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])

    with pytest.raises(InputError) as error:
        load_fashion_mnist(tmp_path)
    assert "train-images-idx3-ubyte.gz" in str(error.value)
    assert "apt-get install dataset-fashion-mnist" in str(error.value)


def test_trailing_bytes_are_rejected(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(idx_bytes(labels, LABEL_MAGIC) + b"\x00"))

    with pytest.raises(InputError, match="longer than its header states"):
        read_idx(path, LABEL_MAGIC)


def test_header_only_file_is_truncated(tmp_path):
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(LABEL_MAGIC.to_bytes(4, "big")))

    with pytest.raises(InputError, match="truncated inside its header"):
        read_idx(path, LABEL_MAGIC)


def test_label_out_of_range(tmp_path):
    write_dataset(tmp_path)
    images = np.zeros((5, 28, 28), dtype=np.uint8)
    labels = np.array([0, 1, 2, 10, 3], dtype=np.uint8)
    write_split(tmp_path, "test", images, labels)

    with pytest.raises(InputError) as error:
        load_fashion_mnist(tmp_path)
    assert "label 10 at index 3" in str(error.value)
    assert "t10k-labels-idx1-ubyte.gz" in str(error.value)


def test_image_label_count_mismatch(tmp_path):
    write_dataset(tmp_path)
    images = np.zeros((5, 28, 28), dtype=np.uint8)
    write_split(tmp_path, "test", images, np.zeros(4, dtype=np.uint8))

    with pytest.raises(InputError, match="5 images .* but 4 labels"):
        load_fashion_mnist(tmp_path)


def test_wrong_image_side(tmp_path):
    write_dataset(tmp_path)
    write_split(
        tmp_path,
        "train",
        np.zeros((3, 32, 32), dtype=np.uint8),
        np.zeros(3, dtype=np.uint8),
    )

    with pytest.raises(InputError, match=r"shape \[32, 32\], expected \[28, 28\]"):
        load_fashion_mnist(tmp_path)


def test_missing_file_gives_install_command(tmp_path):
    with pytest.raises(InputError) as error:
        load_fashion_mnist(tmp_path)
    assert "train-images-idx3-ubyte.gz" in str(error.value)
    assert "not found" in str(error.value)
    assert "apt-get install dataset-fashion-mnist" in str(error.value)


def test_data_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv(fmnist_data.DATA_DIR_ENV, raising=False)
    assert resolve_data_dir() == fmnist_data.DEFAULT_DATA_DIR

    monkeypatch.setenv(fmnist_data.DATA_DIR_ENV, str(tmp_path))
    assert resolve_data_dir() == tmp_path
    assert resolve_data_dir("/elsewhere") == Path("/elsewhere")


def test_real_data_shapes_and_labels():
    # The Debian package dataset-fashion-mnist provides these files (`make data`).
    loaded = load_fashion_mnist(fmnist_data.DEFAULT_DATA_DIR)

    assert loaded.train_images.shape == (60_000, 784)
    assert loaded.train_labels.shape == (60_000,)
    assert loaded.test_images.shape == (10_000, 784)
    assert loaded.test_labels.shape == (10_000,)
    assert torch.equal(torch.bincount(loaded.train_labels), torch.full((10,), 6000))
    assert torch.equal(torch.bincount(loaded.test_labels), torch.full((10,), 1000))
    assert loaded.train_images.min() == pytest.approx(-PIXEL_MEAN / PIXEL_STD)
    assert loaded.train_images.max() == pytest.approx((1 - PIXEL_MEAN) / PIXEL_STD)
