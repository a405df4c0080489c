"""Keeping freed host memory for reuse, so that a training step does not fault in its pages again.

numpy gets each array's memory from the C library's malloc. glibc gives a block above its "mmap
threshold" (128 KiB, raised by itself up to 32 MiB as blocks are freed) a mapping of its own, and
returns the top of its heap to the system once more than twice that is free there. A training
step makes and frees the same few dozen large arrays (activations, im2col columns, gradients)
every time, so under those defaults much of that memory goes back to the system at the end of a
step and is mapped, and every page of it faulted in and zeroed by the kernel, again in the next:
a DCGAN 32×32 step took ~20,000 page faults and ~120 ms of kernel time of its ~380 ms.

At import minigan therefore asks glibc (mallopt) to serve blocks up to 32 MiB from its heap and
to keep the freed heap: later steps reuse the memory of earlier ones, with no page faults. The
cost: the process keeps the memory its largest step used, instead of handing it back between
steps. It is left alone on other systems and C libraries, and when the environment sets any of
glibc's own MALLOC_… variables (benchmarks/run.py's memory measurement sets MALLOC_MMAP_THRESHOLD_
so that freed arrays leave at once), or MINIGAN_KEEP_FREED_MEMORY=0.
"""
import ctypes
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)
LARGEST_HEAP_BLOCK = 32 * 2 ** 20            # glibc's upper limit for M_MMAP_THRESHOLD on 64-bit
NEVER_TRIM = 2 ** 31 - 1


def keep_freed_memory():
    """Tune glibc's malloc as the module's docstring says; True if it was tuned."""
    if sys.platform != "linux" or os.environ.get("MINIGAN_KEEP_FREED_MEMORY") == "0":
        return False
    if any(name.startswith("MALLOC_") for name in os.environ):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # glibc's, not musl's: mallopt's numbers are glibc's
    except (OSError, AttributeError):
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, LARGEST_HEAP_BLOCK)) and bool(libc.mallopt(M_TRIM_THRESHOLD,
                                                                                             NEVER_TRIM))


tuned = keep_freed_memory()
