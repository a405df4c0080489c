"""The errors minigan raises where Python's own classes and torch's differ.

torch raises RuntimeError for most misuse (shapes that do not fit, a wrong dtype), where Python
code would raise ValueError or TypeError. minigan's errors derive from both, so that a script's
`except RuntimeError` (written for torch) and `except ValueError` (written for Python) both catch
them. docs/ERRORS.md lists which misuse raises which class.
"""


class ShapeError(ValueError, RuntimeError):
    """Shapes that cannot meet in an op: broadcasting, matmul, reshape, cat, conv channels."""


class DTypeError(TypeError, RuntimeError):
    """Dtypes that cannot meet in an op (a float64 input to a float32 layer), or an op on a dtype
    it does not take."""


class ValueRangeError(ValueError, RuntimeError):
    """Values outside what an op takes: BCE's probabilities outside [0, 1]."""


class HostDeviceError(TypeError):
    """Host (numpy) data met device data, or device data was converted to host implicitly: what
    CuPy refuses, and the stand-in device of the tests refuses in the same places."""
