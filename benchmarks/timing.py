"""Shared by the benchmarks: equal thread counts for numpy and torch, and alternating median timing."""
import statistics
import time


def limit_threads(threads):
    """Give numpy's BLAS and torch the same number of threads; returns what was set up."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    return threadpool_limits(limits=threads)


def time_call(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(minigan_fn, torch_fn, repeats=20, warmup=3):
    """Median seconds of each function, called alternately so both see the same machine state."""
    for _ in range(warmup):
        minigan_fn()
        torch_fn()
    ours, theirs = [], []
    for _ in range(repeats):
        ours.append(time_call(minigan_fn))
        theirs.append(time_call(torch_fn))
    return statistics.median(ours), statistics.median(theirs)


def print_table(title, rows, unit="ms", scale=1e3):
    """rows: (name, minigan seconds, torch seconds); prints each with the ratio minigan / torch."""
    print(f"\n{title}")
    print(f"{'case':<40} {'minigan ' + unit:>12} {'torch ' + unit:>12} {'ratio':>7}")
    for name, ours, theirs in rows:
        print(f"{name:<40} {ours * scale:>12.3f} {theirs * scale:>12.3f} {ours / theirs:>7.2f}")
