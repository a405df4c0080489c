"""CIFAR-10 in its binary format (never the pickled Python version): reading batches, fetching the tarball.

Each `cifar-10-batches-bin/*.bin` file is a run of 3,073-byte records: one label byte (0..9), then
a 32×32 image as 1,024 red, 1,024 green and 1,024 blue bytes, each plane row-major - which is
exactly a (3, 32, 32) uint8 array, the layout PyTorch uses. Training set: data_batch_1..5.bin
(50,000 images); test set: test_batch.bin (10,000).

`load_cifar10` looks in `data_dir` (the folder holding `cifar-10-batches-bin/`, or that folder
itself), else in the cache `<data root>/cifar10` (see `minigan.data.download.data_root`). There it
downloads the official tarball over HTTPS, checks its pinned SHA-256, and extracts the six batch
files by name only (no other member of the archive is written, so no path in it can escape).
"""
import os
import tarfile

import numpy

from minigan.data.download import DownloadError, atomic_writer, data_root, download_file
from minigan.data.mnist import LabelledImages

# SHA-256 and size as pinned by tensorflow_datasets (url_checksums/cifar10.txt) and
# torchvision-ruby (datasets/cifar10.rb), which agree.
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR10_SHA256 = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
CIFAR10_BYTES = 170052171
BATCHES_FOLDER = "cifar-10-batches-bin"
TRAIN_FILES = tuple(f"data_batch_{index}.bin" for index in range(1, 6))
TEST_FILES = ("test_batch.bin",)
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

IMAGE_SHAPE = (3, 32, 32)
RECORD_BYTES = 1 + 3 * 32 * 32


def read_cifar10_batch(path):
    """One binary batch file as (uint8 images (N, 3, 32, 32), int64 labels (N,)).

    Raises ValueError naming the file if its size is not a whole number of records or a label is not 0..9.
    """
    with open(path, "rb") as file:
        contents = file.read()
    name = os.path.basename(path)
    if not contents or len(contents) % RECORD_BYTES:
        raise ValueError(f"{name}: {len(contents):,} bytes is not a whole number of {RECORD_BYTES}-byte "
                         "CIFAR-10 records (1 label byte + 3×32×32 pixels): truncated, "
                         "or not a CIFAR-10 binary batch")
    records = numpy.frombuffer(contents, dtype=numpy.uint8).reshape(-1, RECORD_BYTES)
    labels = records[:, 0].astype(numpy.int64)
    if labels.max() >= len(CLASSES):
        raise ValueError(f"{name}: labels must be 0..9, found {labels.max()}: not a CIFAR-10 binary batch")
    return records[:, 1:].reshape(-1, *IMAGE_SHAPE).copy(), labels


def write_cifar10_batch(path, images, labels):
    """Write (N, 3, 32, 32) uint8 images and their labels as one binary batch file: read_cifar10_batch's inverse."""
    images, labels = numpy.asarray(images), numpy.asarray(labels)
    if images.dtype != numpy.uint8 or images.shape[1:] != IMAGE_SHAPE or labels.shape != images.shape[:1]:
        raise ValueError(f"write_cifar10_batch: expected uint8 images (N, 3, 32, 32) and labels (N,), "
                         f"got {images.dtype} {images.shape} and {labels.shape}")
    records = numpy.concatenate([labels.astype(numpy.uint8)[:, None], images.reshape(len(images), -1)], axis=1)
    with open(path, "wb") as file:
        file.write(records.tobytes())


def load_cifar10(data_dir=None, train=True, download=True, url=CIFAR10_URL, timeout=60.0):
    """CIFAR-10's training (or test) set: LabelledImages(images uint8 (N, 3, 32, 32), labels int64 (N,)).

    `data_dir`: the folder holding `cifar-10-batches-bin/` (or that folder itself); an existing
    folder you name is only read. Default: the cache folder, where the official binary tarball is
    downloaded (170 MB, SHA-256 checked) if the batches are missing and `download` is true.
    """
    names = TRAIN_FILES if train else TEST_FILES
    named = data_dir is not None
    root = os.path.expanduser(str(data_dir)) if named else os.path.join(data_root(), "cifar10")
    if named and os.path.isdir(root):
        folder = _batches_folder(root, names)  # a folder you name is only read, never downloaded into
    else:
        folder = os.path.join(root, BATCHES_FOLDER)
        if not _all_present(folder, names):
            _fetch_batches(root, folder, download, url, timeout)
    batches = [read_cifar10_batch(os.path.join(folder, name)) for name in names]
    return LabelledImages(*(numpy.concatenate(parts) for parts in zip(*batches)))


def _all_present(folder, names):
    return all(os.path.isfile(os.path.join(folder, name)) for name in names)


def _batches_folder(data_dir, names):
    """The folder under (or at) an existing `data_dir` that holds the batch files; else a clear error."""
    for folder in (os.path.join(data_dir, BATCHES_FOLDER), data_dir):
        if _all_present(folder, names):
            return folder
    raise FileNotFoundError(f"CIFAR-10 batches not found in {data_dir}: expected {', '.join(names)} in "
                            f"{os.path.join(data_dir, BATCHES_FOLDER)} (the binary version, {CIFAR10_URL}; "
                            "the pickled Python version is not read)")


def _fetch_batches(root, folder, download, url, timeout):
    """Download the tarball into `root`, extract the batch files into `folder`, delete the tarball."""
    where = f"put {', '.join(TRAIN_FILES + TEST_FILES)} in {folder} (the binary version, {CIFAR10_URL})"
    if not download:
        raise FileNotFoundError(f"CIFAR-10 batches not found in {folder} and download=False was given: {where}")
    os.makedirs(folder, exist_ok=True)
    try:
        archive = download_file(url, os.path.join(root, os.path.basename(url)), CIFAR10_SHA256, CIFAR10_BYTES, timeout)
    except DownloadError as error:
        raise FileNotFoundError(f"CIFAR-10 batches not found in {folder} and {error}: {where}") from error
    wanted = {f"{BATCHES_FOLDER}/{name}": name for name in TRAIN_FILES + TEST_FILES}
    with tarfile.open(archive, "r|gz") as tar:  # one streaming pass over the archive
        for member in tar:
            if member.name in wanted and member.isfile():
                destination = os.path.join(folder, wanted[member.name])
                with tar.extractfile(member) as source, atomic_writer(destination) as target:
                    target.write(source.read())
    os.remove(archive)
