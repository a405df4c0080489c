"""Shared by the benchmarks: equal thread counts for numpy and torch, and alternating median timing."""
import os
import statistics
import time


def limit_threads(threads):
    """Give numpy's BLAS and torch the same number of threads; returns threadpoolctl's limiter, or
    None where threadpoolctl is not installed (then only torch's count can be set here)."""
    import torch

    torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        blas_threads = os.environ.get("OPENBLAS_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "all cores"))
        print(f"threadpoolctl is not installed: torch uses {threads} thread(s); numpy's BLAS uses what "
              f"OPENBLAS_NUM_THREADS (or OMP_NUM_THREADS) said at start-up: {blas_threads}. Set "
              f"OPENBLAS_NUM_THREADS={threads}, or pip install threadpoolctl, for equal counts.")
        return None
    return threadpool_limits(limits=threads)


def time_call(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(*fns, repeats=20, warmup=3, pause=0.0):
    """Median seconds of each function, called in turn so that all see the same machine state.

    `pause` seconds of sleep before each timed call let the thread pools of the function before
    go idle: OpenBLAS's and OpenMP's workers spin for a while after their work (OpenBLAS's for
    about 0.1 s) and would otherwise take cores from the next function.
    """
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, fn_times in zip(fns, times):
            time.sleep(pause)
            fn_times.append(time_call(fn))
    return tuple(statistics.median(fn_times) for fn_times in times)


def print_table(title, rows, unit="ms", scale=1e3):
    """rows: (name, minigan seconds, torch seconds); prints each with the ratio minigan / torch."""
    print(f"\n{title}")
    print(f"{'case':<40} {'minigan ' + unit:>12} {'torch ' + unit:>12} {'ratio':>7}")
    for name, ours, theirs in rows:
        print(f"{name:<40} {ours * scale:>12.3f} {theirs * scale:>12.3f} {ours / theirs:>7.2f}")
