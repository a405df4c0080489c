"""fuse(model): each Linear layer of a Sequential and the activation layer after it, run as one.

On a GPU a Linear layer is a matrix product and a bias add, and its activation another kernel,
each reading and writing the whole output; fused, the bias and the activation are one kernel
(ops.activation.BiasActivation), and so is their derivative. On the CPU it saves one array pass.
As torch's `fuse_modules` does, the pair becomes one module and the activation's place an
`Identity`; unlike torch's, the fused module is still a Linear with the same parameters, so the
model's state_dict keys, printouts aside, do not change. A pair with hooks is left as it is:
the hooks must see each layer's own output.

    model = nn.Sequential(nn.Linear(100, 256), nn.LeakyReLU(0.2), nn.Linear(256, 784), nn.Tanh())
    nn.utils.fuse(model)    # Sequential(LinearActivation(...), Identity(), LinearActivation(...), Identity())
"""
from minigan.nn.activation import Identity
from minigan.nn.container import Sequential
from minigan.nn.linear import Linear, LinearActivation


def fuse(model):
    """Fuse every (Linear, activation) pair of every Sequential in `model`, in place; returns model."""
    for sequential in [module for module in model.modules() if isinstance(module, Sequential)]:
        layers = list(sequential)
        for position, (layer, following) in enumerate(zip(layers, layers[1:])):
            function = getattr(following, "function", None)
            if (type(layer) is Linear and function is not None and function() is not None
                    and not (layer.has_hooks() or following.has_hooks())):
                sequential[position] = LinearActivation(layer, following)
                sequential[position + 1] = Identity()
    return model
