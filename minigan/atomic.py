"""Writing a file atomically: it appears complete under its name, or not at all."""
import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_writer(path):
    """Yield a binary file that becomes `path` only if the block finishes without an exception.

    The file is written under a hidden temporary name in the same folder (a rename is atomic only
    within one file system), fsynced, renamed onto `path`, and the folder is fsynced so the rename
    itself is durable. On any exception, KeyboardInterrupt included, the temporary file is deleted.
    """
    folder = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".part")
    try:
        with os.fdopen(descriptor, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder):
    """Make a rename in `folder` durable (POSIX only; Windows cannot open a folder for fsync)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
