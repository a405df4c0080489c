"""What minigan's tests and benchmarks use and minigan itself does not: the stand-in GPU
(standin.py), which runs the CUDA code path on a machine without one."""
