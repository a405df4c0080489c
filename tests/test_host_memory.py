"""minigan/host_memory.py: on Linux with glibc, freed arrays are kept for reuse, so a loop that makes
and frees the same large arrays stops faulting in their pages; the environment can opt out."""
import os
import subprocess
import sys

import pytest

LOOP = """
import resource, sys, numpy
import minigan.host_memory as host_memory
for _ in range(3):
    a = numpy.ones(2_000_000, numpy.float32); b = a * 2; del a, b  # 8 MB each, freed at once
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    a = numpy.ones(2_000_000, numpy.float32); b = a * 2; del a, b
print(host_memory.tuned, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def run_loop(**environment):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MALLOC_", "MINIGAN_KEEP"))}
    env.update(environment)
    output = subprocess.run([sys.executable, "-c", LOOP], capture_output=True, text=True, env=env, check=True).stdout
    tuned, faults = output.split()
    return tuned == "True", int(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc is tuned on Linux only")
def test_freed_arrays_are_reused_without_page_faults_unless_the_environment_says_otherwise():
    tuned, faults = run_loop()
    assert tuned and faults < 100  # 20 rounds of two 8 MB arrays: 80,000 pages if each were new
    untuned, default_faults = run_loop(MALLOC_MMAP_THRESHOLD_="65536")
    assert not untuned and default_faults > 10_000
    opted_out, _ = run_loop(MINIGAN_KEEP_FREED_MEMORY="0")
    assert not opted_out
