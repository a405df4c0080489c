"""Getting data files onto disk: where they are cached, and fetching them safely (HTTPS, pinned SHA-256, atomic).

`data_root()` is the folder data sets are cached in: `$MINIGAN_DATA`, else the user cache folder
(`$XDG_CACHE_HOME/minigan`, default `~/.cache/minigan`); each data set has a subfolder.

`download_file(url, destination, sha256, size)` is the one way minigan puts a file from the network
on disk. What it guarantees:
  - the URL is `https://` (plain `http://` only to the loopback host, which never leaves this
    machine: that is how the tests serve files), and a redirect may not change scheme, host or port;
  - the bytes are streamed into a hidden temporary file next to the destination and renamed onto it
    only after their size and SHA-256 match the pinned values, so the destination is either absent
    or complete and verified: an interrupted or tampered download never leaves a file under its name;
  - the rename is preceded by fsync of the file and followed by fsync of its folder, so a crash
    right after cannot leave an empty file behind either.

Two kinds of failure, because the caller treats them differently:
  - `DownloadError` (an OSError): the file could not be fetched (offline, connection refused,
    HTTP error status, connection closed mid-body). Trying another mirror, or working offline, is fine.
  - `UntrustedDownloadError`: the server answered with something minigan refuses (a redirect to
    another host, a non-HTTPS URL, the wrong size or checksum). Never silently worked around.
"""
import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

from minigan.atomic import atomic_writer

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
CHUNK_BYTES = 1 << 16


class DownloadError(OSError):
    """A file could not be fetched (network, HTTP status, interrupted transfer)."""


class UntrustedDownloadError(RuntimeError):
    """A server's answer was refused: wrong scheme, redirect to another host, wrong size or checksum."""


def data_root():
    """Where minigan caches data sets: $MINIGAN_DATA, else the user cache folder."""
    if os.environ.get("MINIGAN_DATA"):
        return os.path.expanduser(os.environ["MINIGAN_DATA"])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "minigan")


def sha256_of_file(path):
    """The SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_url(url):
    """Refuse any URL that is not HTTPS (plain HTTP is allowed to the loopback host only)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return
    raise UntrustedDownloadError(f"refusing to download from {url!r}: only https:// URLs are allowed "
                                 f"(http:// only to {', '.join(LOOPBACK_HOSTS)})")


def _origin(url):
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


class _SameOriginRedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to the same scheme, host and port as the request that got it."""

    def redirect_request(self, request, file, code, message, headers, new_url):
        new_url = urllib.parse.urljoin(request.full_url, new_url)
        if _origin(new_url) != _origin(request.full_url):
            raise UntrustedDownloadError(f"refusing the redirect from {request.full_url} to {new_url}: "
                                         "downloads may not move to another host, port or scheme")
        return super().redirect_request(request, file, code, message, headers, new_url)


def download_file(url, destination, sha256, size=None, timeout=30.0, quiet=False):
    """Download `url` to `destination`, verified against `sha256` (and `size` in bytes, if given).

    A destination that already exists with the right checksum is kept and nothing is fetched.
    Returns the destination path. Raises DownloadError or UntrustedDownloadError (see the module
    docstring); in both cases nothing is left under the destination's name that was not there before.
    """
    check_url(url)
    if os.path.exists(destination) and sha256_of_file(destination) == sha256:
        return destination
    if not quiet:
        announced = f" ({size / 1e6:.1f} MB)" if size else ""
        print(f"minigan.data: downloading {url}{announced} to {destination}", file=sys.stderr)
    opener = urllib.request.build_opener(_SameOriginRedirectHandler)
    try:
        with opener.open(url, timeout=timeout) as response, atomic_writer(destination) as file:
            received, digest = _stream(response, file, limit=None if size is None else size + 1)
            _verify(url, response.headers.get("Content-Length"), received, digest, sha256, size)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        if isinstance(error, DownloadError):
            raise
        raise DownloadError(f"could not download {url}: {_reason(error)}") from error
    return destination


def _stream(response, file, limit):
    """Copy the response body into `file` (at most `limit` bytes), hashing it on the way."""
    digest, received = hashlib.sha256(), 0
    while limit is None or received < limit:
        chunk = response.read(CHUNK_BYTES if limit is None else min(CHUNK_BYTES, limit - received))
        if not chunk:
            break
        digest.update(chunk)
        file.write(chunk)
        received += len(chunk)
    return received, digest.hexdigest()


def _verify(url, content_length, received, digest, sha256, size):
    """Raise if the body is too long, was cut short, or is not the pinned file."""
    if size is not None and received > size:
        raise UntrustedDownloadError(f"{url} sent more than the expected {size:,} bytes: not the pinned file")
    if content_length is not None and content_length.isdigit() and received < int(content_length):
        raise DownloadError(f"could not download {url}: the connection closed after {received:,} "
                            f"of {int(content_length):,} bytes")
    if size is not None and received != size:
        raise UntrustedDownloadError(f"{url} sent {received:,} bytes instead of the expected {size:,}: "
                                     "not the pinned file")
    if digest != sha256:
        raise UntrustedDownloadError(f"{url}: SHA-256 mismatch, expected {sha256}, got {digest}: "
                                     "the file is corrupt or not the one minigan pins; it was not kept")


def _reason(error):
    """A short human reason for a network error (urllib wraps the interesting part in .reason)."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
