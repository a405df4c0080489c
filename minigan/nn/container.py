"""Sequential: a chain of modules, each fed the output of the one before."""
from collections import OrderedDict

from minigan.nn.module import Module


class Sequential(Module):
    """Sequential(m0, m1, ...) or Sequential(OrderedDict(name=module, ...)): calls them in order.

    Indexable like a list (negative indices; a slice gives a Sequential that keeps the names),
    iterable, with len().
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            named_modules = modules[0].items()
        else:
            named_modules = ((str(position), module) for position, module in enumerate(modules))
        for name, module in named_modules:
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: element {name} is a {type(module).__name__}, not a Module "
                                "(pass layers such as nn.Linear(...), not tensors or functions)")
            self.add_module(name, module)

    def forward(self, input):
        for module in self:
            input = module(input)
        return input

    def append(self, module):
        self.add_module(str(len(self)), module)
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

    def _position(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"Sequential: index {index} is out of range for a Sequential of {len(self)} modules")
        return index % len(self)
