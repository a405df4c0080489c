"""minigan.trace(): a tape of the ops a block of code runs, forward and backward, with shapes and times.

    with minigan.trace() as tape:
        loss = model(x).sum()
        loss.backward()
    print(tape)            # one line per op, in the order they ran
    print(tape.summary())  # per op: calls, total milliseconds, share of the traced time

Each entry is one op's forward (`Function.__call__`), one op's backward (`Function.backward`,
called by the engine), a sum of two gradients made by the engine, or an optimizer step. The ops a
backward is written with run inside it: they are listed indented under it and counted in its
time, not again on their own. The engine and the optimizers report to the innermost active trace;
with none active, an op pays one check of `tracing.active`.

Python's garbage collections are listed apart, in `tape.collections` (and in the summary): a
collection runs inside whichever op happened to make the object that triggered it, and would
otherwise inflate that op's time.
Times are wall-clock on the host. On a GPU the host only queues kernels, so they show where
Python spends its time, not the GPU; use a GPU profiler for that.
"""
import gc
import time

active = None  # the trace being recorded, or None


class Entry:
    """One op on the tape."""

    __slots__ = ("phase", "name", "depth", "input_shapes", "output_shapes", "seconds")

    def __init__(self, phase, name, depth, input_shapes):
        self.phase, self.name, self.depth, self.input_shapes = phase, name, depth, input_shapes
        self.output_shapes, self.seconds = (), 0.0

    def __repr__(self):
        def shapes(values):
            return ", ".join(str(tuple(shape)) for shape in values)
        return (f"{'    ' * self.depth}{self.phase:<9} {self.name:<24} {shapes(self.input_shapes)} -> "
                f"{shapes(self.output_shapes)}  {self.seconds * 1e3:.3f} ms")


def _shapes(values):
    """The shapes of the arrays and tensors among `values` (None and numbers are skipped)."""
    if not isinstance(values, (tuple, list)):
        values = (values,)
    return tuple(value.shape for value in values if hasattr(value, "shape"))


class trace:
    """Record every op run inside the `with` block; see the module's docstring."""

    def __init__(self):
        self.entries = []
        self.collections = []  # Python's garbage collections during the block, as entries of phase 'gc'
        self.seconds = 0.0
        self._open = []  # the entries whose op is running, outermost first
        self._phase = "forward"
        self._collection_started = None

    def __enter__(self):
        global active
        self._outer, active = active, self
        gc.callbacks.append(self._on_collection)
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc_info):
        global active
        self.seconds = time.perf_counter() - self._started
        gc.callbacks.remove(self._on_collection)
        active = self._outer

    def call(self, name, function, *args):
        """`function(*args)`, recorded as op `name` of the current phase, with its time and shapes."""
        entry = Entry(self._phase, name, len(self._open), _shapes(args))
        self.entries.append(entry)
        self._open.append(entry)
        start = time.perf_counter()
        try:
            result = function(*args)
        finally:
            entry.seconds += time.perf_counter() - start
            self._open.pop()
        entry.output_shapes = _shapes(result)
        return result

    def _on_collection(self, phase, info):
        """Python's garbage collector runs whenever enough objects were made, inside whichever op
        made the last one: its time is an entry of its own, taken out of the ops it interrupted."""
        if phase == "start":
            self._collection_started = time.perf_counter()
            return
        if self._collection_started is None:
            return
        seconds = time.perf_counter() - self._collection_started
        self._collection_started = None
        collection = Entry("gc", f"generation {info['generation']} collection", 0, ())
        collection.seconds = seconds
        self.collections.append(collection)
        for entry in self._open:
            entry.seconds -= seconds

    def phase(self, phase):
        """A `with` block whose top-level ops belong to `phase` ('backward', 'optimizer')."""
        return _Phase(self, phase)

    # -- reading the tape -------------------------------------------------------------------------
    def __len__(self):
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)

    def __str__(self):
        return "\n".join(repr(entry) for entry in self.entries)

    def totals(self):
        """{(phase, op): [calls, seconds]} over the top-level entries and the garbage collections,
        most time first."""
        totals = {}
        for entry in self.entries + self.collections:
            if entry.depth == 0:
                calls_and_seconds = totals.setdefault((entry.phase, entry.name), [0, 0.0])
                calls_and_seconds[0] += 1
                calls_and_seconds[1] += entry.seconds
        return dict(sorted(totals.items(), key=lambda item: -item[1][1]))

    def summary(self):
        """A table, one row per (phase, op): calls, total milliseconds and share of the traced
        time; the last row is the time spent between ops (Python, module calls, ...)."""
        rows = [(phase, name, calls, seconds) for (phase, name), (calls, seconds) in self.totals().items()]
        rows.append(("", "(between ops)", "", self.seconds - sum(row[3] for row in rows)))
        lines = [f"{'phase':<9} {'op':<32} {'calls':>6} {'ms':>10} {'share':>7}"]
        for phase, name, calls, seconds in rows:
            share = 100 * seconds / self.seconds if self.seconds else 0.0
            lines.append(f"{phase:<9} {name:<32} {calls!s:>6} {seconds * 1e3:>10.3f} {share:>6.1f}%")
        return "\n".join(lines)


def traced(phase, name, function, *args):
    """`function(*args)`, recorded on the active trace, if there is one, as op `name` of `phase`."""
    tape = active
    if tape is None:
        return function(*args)
    with tape.phase(phase):
        return tape.call(name, function, *args)


class _Phase:
    def __init__(self, tape, phase):
        self.tape, self.phase = tape, phase

    def __enter__(self):
        self.outer, self.tape._phase = self.tape._phase, self.phase

    def __exit__(self, *exc_info):
        self.tape._phase = self.outer
