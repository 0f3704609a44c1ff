"""Fashion-MNIST from IDX files, checked and normalized, with no download.

The files come from the Debian package `dataset-fashion-mnist`, which installs the four
`*-ubyte.gz` files under /usr/share/datasets/fashion-mnist. A different folder is chosen
with the `data_dir` argument (`--data` on the CLI) or the `DUALSYM_FMNIST_DIR`
environment variable. Each file is checked for its IDX magic number, its dimensions,
its length and, for labels, the range 0..9, so a truncated or foreign file fails with
an error that names it instead of producing wrong data.
"""

from __future__ import annotations

import gzip
import logging
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dualsym.errors import InputError

logger = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path("/usr/share/datasets/fashion-mnist")
DATA_DIR_ENV = "DUALSYM_FMNIST_DIR"
INSTALL_HINT = (
    "install the data with `apt-get install dataset-fashion-mnist`, or point --data "
    f"or {DATA_DIR_ENV} at a folder that contains the four *-ubyte.gz files"
)

SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
IMAGE_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
LABEL_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
IMAGE_SIDE = 28
CLASSES = 10

# Per-pixel normalization of the reference protocol, applied after scaling to [0, 1].
PIXEL_MEAN = 0.1307
PIXEL_STD = 0.3081


@dataclass(frozen=True)
class FashionMNIST:
    """Normalized images [samples, 784] (float32) and labels [samples] (int64)."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    source: str

    def to(self, device: torch.device | str, dtype: torch.dtype) -> FashionMNIST:
        """Return a copy with images of `dtype` and every tensor on `device`."""
        return FashionMNIST(
            self.train_images.to(device=device, dtype=dtype),
            self.train_labels.to(device=device),
            self.test_images.to(device=device, dtype=dtype),
            self.test_labels.to(device=device),
            self.source,
        )


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Read an IDX file of unsigned bytes (gzip-compressed when named *.gz).

    Raises:
        InputError: the file is missing, unreadable, not gzip, has another magic
            number, or is shorter or longer than its header states.
    """
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as stream:
                raw = stream.read()
        else:
            raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(
            f"Fashion-MNIST file {path} not found; {INSTALL_HINT}"
        ) from None
    except (OSError, EOFError, zlib.error) as error:
        # gzip raises EOFError on a truncated stream and BadGzipFile (an OSError) on
        # a file that is not gzip at all.
        raise InputError(
            f"cannot read Fashion-MNIST file {path}: {error}; the file is probably "
            f"truncated or corrupt, so reinstall it ({INSTALL_HINT})"
        ) from None

    if len(raw) < 4:
        raise InputError(
            f"Fashion-MNIST file {path} is truncated: {len(raw)} bytes, shorter than "
            f"the 4-byte IDX header; {INSTALL_HINT}"
        )
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise InputError(
            f"Fashion-MNIST file {path} has IDX magic number 0x{found:08x}, expected "
            f"0x{magic:08x}; it is not the expected image or label file"
        )

    dims = magic & 0xFF
    header = 4 + 4 * dims
    if len(raw) < header:
        raise InputError(
            f"Fashion-MNIST file {path} is truncated inside its header "
            f"({len(raw)} of {header} bytes); {INSTALL_HINT}"
        )
    shape = tuple(
        int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)
    )
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        state = "truncated" if len(raw) < expected else "longer than its header states"
        raise InputError(
            f"Fashion-MNIST file {path} is {state}: {len(raw)} bytes, expected "
            f"{expected} for shape {list(shape)}; {INSTALL_HINT}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """Return `data_dir`, else $DUALSYM_FMNIST_DIR, else the Debian install folder."""
    if data_dir is not None:
        return Path(data_dir)
    from_env = os.environ.get(DATA_DIR_ENV)
    if from_env:
        return Path(from_env)
    return DEFAULT_DATA_DIR


def load_split(
    data_dir: Path, split: str, limit: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load one split as normalized float32 images [n, 784] and int64 labels [n].

    `limit` keeps the first `limit` samples (for tests and smoke runs).
    """
    image_name, label_name = SPLIT_FILES[split]
    image_path = data_dir / image_name
    label_path = data_dir / label_name
    images = read_idx(image_path, IMAGE_MAGIC)
    labels = read_idx(label_path, LABEL_MAGIC)

    if images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise InputError(
            f"Fashion-MNIST file {image_path} contains images of shape "
            f"{list(images.shape[1:])}, expected [{IMAGE_SIDE}, {IMAGE_SIDE}]"
        )
    if len(images) != len(labels):
        raise InputError(
            f"Fashion-MNIST {split} split has {len(images)} images in {image_path} but "
            f"{len(labels)} labels in {label_path}; reinstall the data ({INSTALL_HINT})"
        )
    if labels.size and int(labels.max()) >= CLASSES:
        bad = int(np.argmax(labels >= CLASSES))
        raise InputError(
            f"Fashion-MNIST file {label_path} has label {int(labels[bad])} at index "
            f"{bad}, outside the class range 0..{CLASSES - 1}"
        )

    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    pixels = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32))
    normalized = (pixels / 255.0 - PIXEL_MEAN) / PIXEL_STD
    return normalized, torch.from_numpy(labels.astype(np.int64))


def load_fashion_mnist(
    data_dir: str | Path | None = None,
    train_limit: int | None = None,
    test_limit: int | None = None,
) -> FashionMNIST:
    """Load and check both splits of Fashion-MNIST (see the module docstring).

    Example:
        >>> data = load_fashion_mnist()
        >>> data.train_images.shape, data.test_labels.shape
        (torch.Size([60000, 784]), torch.Size([10000]))
    """
    folder = resolve_data_dir(data_dir)
    for limit, name in ((train_limit, "train_limit"), (test_limit, "test_limit")):
        if limit is not None and limit < 1:
            raise InputError(f"`{name}` must be a positive integer, got {limit}")
    train_images, train_labels = load_split(folder, "train", train_limit)
    test_images, test_labels = load_split(folder, "test", test_limit)
    logger.info(
        "loaded Fashion-MNIST from %s: %d train, %d test images",
        folder,
        len(train_labels),
        len(test_labels),
    )
    return FashionMNIST(
        train_images, train_labels, test_images, test_labels, str(folder)
    )
