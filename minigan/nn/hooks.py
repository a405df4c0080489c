"""Module hooks: the handle that removes one, and how a backward hook learns a module's gradients.

A forward hook is simple: Module.__call__ calls it with (module, inputs, output) after forward.

A full backward hook, hook(module, grad_input, grad_output), needs the gradients at the module's
boundary, which the engine never gathers per module. So, for a call of a module that has one,
every input that requires grad and the output pass through an `Identity` op, which changes
nothing in the forward and whose backward reports the gradient it sees. The engine reaches the
output's Identity first (it is the newest node) and the inputs' last, so once the last input has
reported, `BackwardHookCall` holds both tuples and calls the hooks. A module none of whose inputs
requires grad (the first layer, fed data) calls them from the output's Identity, with
grad_input = (None, ...), as torch does.
"""
import itertools

from minigan.tensor import Function, Tensor, is_grad_enabled

_handle_ids = itertools.count()


class RemovableHandle:
    """What register_*_hook returns: `handle.remove()` takes the hook off again."""

    def __init__(self, hooks, hook):
        self.hooks, self.id = hooks, next(_handle_ids)
        hooks[self.id] = hook

    def remove(self):
        self.hooks.pop(self.id, None)


class Identity(Function):
    """y = x, the same array; its backward hands the gradient to `on_gradient`, which may return
    a replacement."""

    def __init__(self, on_gradient):
        self.on_gradient = on_gradient

    def forward(self, x):
        return x

    def backward(self, grad_output):
        replacement = self.on_gradient(grad_output)
        return grad_output if replacement is None else replacement


class BackwardHookCall:
    """One call of a module with full backward hooks: routes its boundary gradients to them."""

    def __init__(self, module, hooks, inputs):
        self.module, self.hooks, self.inputs = module, list(hooks), inputs
        self.tracked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
        self.grad_input, self.grad_output = [None] * len(inputs), None
        self.waiting = len(self.tracked)

    def wrap_inputs(self):
        return tuple(Identity(lambda grad, i=i: self._input_gradient(i, grad))(x) if i in self.tracked else x
                     for i, x in enumerate(self.inputs))

    def wrap_output(self, output):
        if not (is_grad_enabled() and isinstance(output, Tensor) and output.requires_grad):
            return output  # nothing will flow back through this call
        return Identity(self._output_gradient)(output)

    def _output_gradient(self, grad):
        self.grad_output = grad
        if not self.tracked:
            self._call_hooks()

    def _input_gradient(self, i, grad):
        self.grad_input[i] = grad
        self.waiting -= 1
        if self.waiting:
            return None
        replaced = self._call_hooks()
        if replaced is None:
            return None
        if len(self.tracked) != 1:
            raise RuntimeError(f"{type(self.module).__name__}: a full backward hook may replace grad_input only "
                               "for a module called with one input that requires grad")
        return replaced[i]

    def _call_hooks(self):
        """Call each hook with (module, grad_input, grad_output); a returned tuple replaces
        grad_input for the hooks after it and for the gradient passed on."""
        grad_input, replaced = tuple(self.grad_input), None
        for hook in self.hooks:
            result = hook(self.module, grad_input, (self.grad_output,))
            if result is not None:
                grad_input = replaced = tuple(result)
        return replaced
