"""Module: the base of every layer. It registers parameters, buffers and submodules and walks them.

A Module keeps three ordered registries, filled by plain attribute assignment:
  self.weight = Parameter(...)       -> _parameters  (learnable, listed by parameters())
  self.register_buffer("running_mean", t) -> _buffers (saved in state_dict, not learnable)
  self.block = Linear(...)           -> _modules     (children, walked recursively)
Everything else — parameters(), state_dict(), train(), to(), repr — is a walk over those three,
in the same order as torch, so names and orders match torch's one for one.
"""
import collections
from collections.abc import Mapping

from minigan import backend
from minigan.nn.hooks import BackwardHookCall, RemovableHandle
from minigan.nn.parameter import Parameter
from minigan.tensor import Tensor, is_grad_enabled

_REGISTRIES = ("_parameters", "_buffers", "_modules")


class IncompatibleKeys(collections.namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """The keys load_state_dict(strict=False) could not match, as torch returns them."""

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()


class Module:
    """Base class of layers and models: subclass it, assign layers in __init__, define forward."""

    def __init__(self):
        # object.__setattr__: our own __setattr__ needs these registries to exist already
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_forward_pre_hooks", {})
        object.__setattr__(self, "_forward_hooks", {})
        object.__setattr__(self, "_backward_hooks", {})

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward(): define it in the subclass")

    def __call__(self, *args, **kwargs):
        if not self.has_hooks():
            return self.forward(*args, **kwargs)
        for hook in list(self._forward_pre_hooks.values()):
            replacement = hook(self, args)
            if replacement is not None:
                args = replacement if isinstance(replacement, tuple) else (replacement,)
        backward_hooks = None
        if self._backward_hooks and is_grad_enabled():
            backward_hooks = BackwardHookCall(self, self._backward_hooks.values(), args)
            args = backward_hooks.wrap_inputs()
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            replacement = hook(self, args, output)
            if replacement is not None:
                output = replacement
        return output if backward_hooks is None else backward_hooks.wrap_output(output)

    # -- hooks: see minigan/nn/hooks.py -----------------------------------------------------------
    def register_forward_pre_hook(self, hook):
        """Call `hook(module, inputs)` before every forward; a returned value replaces the inputs
        (a tuple, or a single input). Returns a handle whose .remove() takes the hook off."""
        return RemovableHandle(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook):
        """Call `hook(module, inputs, output)` after every forward; a returned value replaces the
        output. Returns a handle whose .remove() takes the hook off."""
        return RemovableHandle(self._forward_hooks, hook)

    def register_full_backward_hook(self, hook):
        """Call `hook(module, grad_input, grad_output)` when the gradients with respect to the
        module's inputs (None for an input that needs none) have been computed; a returned tuple
        replaces grad_input. Returns a handle whose .remove() takes the hook off."""
        return RemovableHandle(self._backward_hooks, hook)

    def has_hooks(self):
        return bool(self._forward_pre_hooks or self._forward_hooks or self._backward_hooks)

    # -- registration -----------------------------------------------------------------------
    def register_parameter(self, name, param):
        self._check_registrable(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"{type(self).__name__}: cannot register a {type(param).__name__} as parameter "
                            f"{name!r}: wrap it as nn.Parameter(...), or use register_buffer for a constant")
        self._forget(name, keep="_parameters")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """A tensor that belongs to the module's state (saved, converted by to()) but is not learned."""
        self._check_registrable(name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"{type(self).__name__}: buffer {name!r} must be a Tensor or None, "
                            f"got {type(tensor).__name__}")
        self._forget(name, keep="_buffers")
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers.add(name)

    def add_module(self, name, module):
        self._check_registrable(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}: {name!r} must be a Module or None, got {type(module).__name__}")
        self._forget(name, keep="_modules")
        self._modules[name] = module

    register_module = add_module

    def _check_registrable(self, name, kind):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign a {kind} before Module.__init__() call: call "
                                 f"super().__init__() first in {type(self).__name__}.__init__")
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"{type(self).__name__}: {kind} name must be a non-empty string without '.', got {name!r}")

    def _forget(self, name, keep=None):
        """Remove `name` from the instance dict and every registry but `keep`, where re-registering
        it keeps its place (so that sequential[1] = layer stays second)."""
        self.__dict__.pop(name, None)
        for registry in _REGISTRIES:
            if registry != keep:
                self.__dict__[registry].pop(name, None)
        self._non_persistent_buffers.discard(name)

    def __setattr__(self, name, value):
        registries = {registry: self.__dict__.get(registry, {}) for registry in _REGISTRIES}
        if isinstance(value, Parameter):
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            self.add_module(name, value)
        elif name in registries["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"{type(self).__name__}: cannot assign a {type(value).__name__} to buffer "
                                f"{name!r} (a Tensor or None expected)")
            registries["_buffers"][name] = value
        elif name in registries["_parameters"] or name in registries["_modules"]:
            registry = "_parameters" if name in registries["_parameters"] else "_modules"
            if value is not None:
                expected = "nn.Parameter" if registry == "_parameters" else "Module"
                raise TypeError(f"{type(self).__name__}: cannot assign a {type(value).__name__} to {name!r} "
                                f"({expected} or None expected)")
            registries[registry][name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # Python calls this only when ordinary lookup fails: registered things live in the registries
        for registry in _REGISTRIES:
            entries = self.__dict__.get(registry)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for registry in _REGISTRIES:
            if name in self.__dict__.get(registry, {}):
                self._forget(name)
                return
        object.__delattr__(self, name)

    # -- walking the tree -------------------------------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """This module and every submodule, depth first, parents before children (as torch)."""
        memo = set() if memo is None else memo
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, _join(prefix, name), remove_duplicate)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        seen = set()
        for name, module in self._modules.items():
            if module is not None and module not in seen:
                seen.add(module)
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry, prefix, recurse, remove_duplicate=True):
        """(dotted name, tensor) for each entry of `registry` in this module and, if `recurse`,
        below it; a tensor shared between modules is listed once."""
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        seen = set()
        for module_prefix, module in modules:
            for name, tensor in module.__dict__[registry].items():
                if tensor is None or (remove_duplicate and id(tensor) in seen):
                    continue
                seen.add(id(tensor))
                yield _join(module_prefix, name), tensor

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def apply(self, fn):
        """Call fn on every submodule, children before parents, then on self (DCGAN's weights_init)."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # -- modes and gradients ----------------------------------------------------------------
    def train(self, mode=True):
        """Training mode (batch statistics, dropout on) for this module and all below it."""
        if not isinstance(mode, bool):
            raise ValueError(f"train(mode): mode must be a bool, got {mode!r}")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self):
        """Evaluation mode: BatchNorm uses its running statistics, Dropout passes inputs through."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Forget the gradients: set each .grad to None, or (set_to_none=False) fill it with zeros."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            elif param.grad.grad_fn is not None:  # a differentiable gradient: never overwrite a graph's data
                param.grad = Tensor(backend.get_array_module(param.grad.array).zeros_like(param.grad.array))
            else:
                param.grad.array[...] = 0  # in place: an optimizer may hold a view of it

    # -- dtype and device -------------------------------------------------------------------
    def to(self, *args, device=None, dtype=None):
        """Move to a device and/or convert floating-point parameters and buffers to `dtype`:
        model.to('cuda'), model.to(minigan.float64), model.to('cuda', minigan.float64).

        Integer buffers (BatchNorm's num_batches_tracked) keep their dtype, as in torch. The
        Parameter objects stay the same, their arrays are replaced: build optimizers after
        calling to() (an optimizer built before follows, but moves its state at its next step).
        """
        for arg in args:
            if isinstance(arg, str):
                device = arg
            else:
                dtype = arg
        if device is not None:
            device = backend.check_device(device)

        def convert(array):
            if dtype is not None and array.dtype.kind == "f":
                array = array.astype(dtype, copy=False)
                if array.dtype.kind != "f":
                    raise TypeError(f"{type(self).__name__}.to: only floating-point dtypes are accepted, got {dtype}")
            return array if device is None else backend.to_device(array, device)

        for tensor in self._tensors():
            tensor.array = convert(tensor.array)
            if tensor.grad is not None:
                tensor.grad.array = convert(tensor.grad.array)
        return self

    def _tensors(self):
        """Every parameter and buffer of the tree, each once."""
        yield from self.parameters()
        yield from self.buffers()

    def double(self):
        return self.to(dtype=backend.float64)

    def float(self):
        return self.to(dtype=backend.float32)

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    # -- saving and loading -----------------------------------------------------------------
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """An OrderedDict of dotted name -> tensor: every parameter and persistent buffer, named
        as torch names them ("main.1.running_mean"). The tensors share memory with the module's."""
        destination = collections.OrderedDict() if destination is None else destination
        persistent_buffers = {name: buffer for name, buffer in self._buffers.items()
                              if name not in self._non_persistent_buffers}
        for name, tensor in {**self._parameters, **persistent_buffers}.items():
            if tensor is not None:
                destination[prefix + name] = tensor if keep_vars else tensor.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def load_state_dict(self, state_dict, strict=True):
        """Copy values (Tensors, or arrays such as {k: v.numpy()} of a torch state_dict) into the
        module's parameters and buffers, in place, on the module's device.

        Every problem is reported at once — missing and unexpected keys (when `strict`) and shape
        mismatches (always) — and nothing is copied unless all entries fit.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected a dict-like state_dict, got {type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        arrays, problems = {}, []
        for key, target in own.items():
            if key in state_dict:
                value = state_dict[key]
                array = backend.as_array(value.array if isinstance(value, Tensor) else value, device=target.device)
                if array.shape != target.shape:
                    problems.append(f"size mismatch for {key}: copying a param with shape {array.shape} from "
                                    f"checkpoint, the shape in current model is {target.shape}.")
                arrays[key] = array
        if strict and unexpected:
            problems.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        if strict and missing:
            problems.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(problems))
        for key, array in arrays.items():
            own[key].array[...] = array  # copy into the existing array, as torch's copy_: optimizers hold views
        return IncompatibleKeys(missing, unexpected)

    # -- printing ---------------------------------------------------------------------------
    def extra_repr(self):
        """The text inside the parentheses of this module's repr, e.g. 'in_features=784, ...'."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _indent(repr(module), 2) for name, module in self._modules.items()]
        name = type(self).__name__
        if not child_lines and len(extra_lines) <= 1:
            return f"{name}({extra})"
        return name + "(\n  " + "\n  ".join(extra_lines + child_lines) + "\n)"


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix else name


def _indent(text, spaces):
    """Indent every line of `text` but the first, which follows a '(name): ' label."""
    return text.replace("\n", "\n" + " " * spaces)
