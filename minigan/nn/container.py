"""Containers: Sequential (a chain of modules, each fed the output of the one before), ModuleList
and ModuleDict (modules held by position or by name, registered so that their parameters count).
State_dict keys are torch's: the position ("main.0.weight") or the name ("blocks.head.weight")."""
from collections import OrderedDict

from minigan.nn.module import Module


class _ModulesByPosition(Module):
    """What Sequential and ModuleList share: modules named "0", "1", ..., indexed like a list
    (negative indices; a slice gives a container of the same type that keeps the names)."""

    def _add_all(self, named_modules):
        for name, module in named_modules:
            if not isinstance(module, Module):
                raise TypeError(f"{type(self).__name__}: element {name} is a {type(module).__name__}, not a Module "
                                "(pass layers such as nn.Linear(...), not tensors or functions)")
            self.add_module(name, module)

    def append(self, module):
        self._add_all([(str(len(self)), module)])
        return self

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)(OrderedDict(list(self._modules.items())[index]))
        return list(self._modules.values())[self._position(index)]

    def __setitem__(self, index, module):
        setattr(self, list(self._modules)[self._position(index)], module)

    def __delitem__(self, index):
        keys = list(self._modules)
        for key in keys[index] if isinstance(index, slice) else [keys[self._position(index)]]:
            del self._modules[key]
        # the rest renumbered 0, 1, ..., as torch does
        remaining = list(self._modules.values())
        self._modules.clear()
        self._add_all((str(position), module) for position, module in enumerate(remaining))

    def _position(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"{type(self).__name__}: index {index} is out of range for {len(self)} modules")
        return index % len(self)


class Sequential(_ModulesByPosition):
    """Sequential(m0, m1, ...) or Sequential(OrderedDict(name=module, ...)): calls them in order."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            self._add_all(modules[0].items())
        else:
            self._add_all((str(position), module) for position, module in enumerate(modules))

    def forward(self, input):
        for module in self:
            input = module(input)
        return input


class ModuleList(_ModulesByPosition):
    """ModuleList(modules): a list of modules whose parameters count as the owner's; it has no
    forward of its own: the owner's forward decides how the modules are called."""

    def __init__(self, modules=None):
        super().__init__()
        if isinstance(modules, OrderedDict):  # a slice of a ModuleList keeps the names
            self._add_all(modules.items())
        else:
            self.extend(modules or [])

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        modules = list(self)
        modules.insert(index, module)
        self._modules.clear()
        self._add_all((str(position), m) for position, m in enumerate(modules))

    def __iadd__(self, modules):
        return self.extend(modules)


class ModuleDict(Module):
    """ModuleDict(modules): modules by name, in insertion order, registered as the owner's."""

    def __init__(self, modules=None):
        super().__init__()
        self.update(modules or {})

    def update(self, modules):
        for name, module in (modules.items() if hasattr(modules, "items") else modules):
            self[name] = module

    def __getitem__(self, name):
        return self._modules[name]

    def __setitem__(self, name, module):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: {name!r} is a {type(module).__name__}, not a Module")
        self.add_module(name, module)

    def __delitem__(self, name):
        del self._modules[name]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, name):
        return name in self._modules

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def pop(self, name):
        module = self._modules[name]
        del self[name]
        return module

    def clear(self):
        self._modules.clear()
