"""Optimizer: parameter groups, flat buffers, zero_grad and state_dict, shared by Adam and SGD.

Why flat buffers: an update such as Adam's is a handful of element-wise formulas. Applied one
parameter at a time it costs a Python round trip per parameter and per formula; applied to one
array that holds every parameter of a group, it is a few whole-array operations. So each group
keeps (in a `FlatGroup`):
  - `data`: one flat array; every parameter's `.array` is a view into it (a reshaped slice);
  - per-element state (Adam's moments, SGD's momentum) as flat arrays of the same length;
  - per-parameter state (Adam's step count, whether a parameter has state yet) as short arrays
    with one number per parameter;
and `step()` gathers the gradients into one flat array with a single concatenate. When someone
replaces a parameter's `.array` (`model.double()`, `p.array = ...`), the next step notices and
rebuilds the views; state survives.

Subclasses say which state they keep and write `_advance` (the per-parameter bookkeeping of one
step) and `_update` (the element-wise formulas). The state_dict has torch's layout:
{'state': {index: {name: value}}, 'param_groups': [{option: value, ..., 'params': [indices]}]}.
"""
import numbers
import operator

import numpy  # host-side bookkeeping only (one number per parameter); array data goes through xp

from minigan import backend, tracing
from minigan.backend import default_dtype, get_array_module
from minigan.tensor import Tensor, enable_grad

# On the CPU, updates run over blocks of this many elements: a block of each array involved
# (parameters, gradients, moments, scratch) stays in the L2 cache across the formula's ~14
# passes, instead of every pass streaming the whole group through memory. On a GPU each pass is
# one kernel launch whatever its length, so there the whole group is one block.
_BLOCK = 1 << 16


def _block_size(array):
    return _BLOCK if backend.device_of(array) == "cpu" else max(array.size, 1)


def lerp_arrays_(average, value, weight, scratch):
    """average ← lerp(average, value, weight), in place, as torch's lerp computes it: from the
    average for a weight under 0.5, average + w·(value − average), else from the value,
    value − (value − average)·(1 − w); so moving averages (Adam's m, RMSprop's ḡ) agree to the bit."""
    xp = get_array_module(average)
    weight = average.dtype.type(weight)
    difference = xp.subtract(value, average, out=scratch)
    if weight < 0.5:
        average += xp.multiply(difference, weight, out=scratch)
    else:
        xp.subtract(value, xp.multiply(difference, 1 - weight, out=scratch), out=average)


class Optimizer:
    """Base class: holds `param_groups` (a list of dicts, as in torch) and one FlatGroup each."""

    parameter_state_names = ()  # per-parameter numbers kept in state, e.g. Adam's ('step',)
    element_state_names = ()    # every per-element array the optimizer may keep

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.param_groups = []
        self._flat_groups = []
        if isinstance(params, Tensor):
            raise TypeError(f"{self.name}: params should be an iterable of Tensors or of dicts "
                            "(parameter groups), but got a single Tensor; wrap it in a list")
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{self.name}: params must be an ordered collection (a set has no fixed "
                            "order, so state_dict indices would not be reproducible); use a list")
        param_groups = list(params)
        if not param_groups:
            raise ValueError(f"{self.name}: optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    @property
    def name(self):
        return type(self).__name__

    # -- parameter groups -------------------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a group of parameters with its own options; missing options take the defaults."""
        index = len(self.param_groups)
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise TypeError(f"{self.name}: parameter group {index} must be a dict with a 'params' "
                            f"entry, got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{self.name}: parameter group {index}: params must be an ordered "
                            "collection, not a set; use a list")
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError(f"{self.name}: parameter group {index} has an empty parameter list")
        self._check_params(params, index)
        group = {**self.defaults, **param_group, "params": params}
        self._check_options(group)
        self.param_groups.append(group)
        self._flat_groups.append(FlatGroup(params, f"{self.name} parameter group {index}"))

    def _check_params(self, params, group_index):
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        for i, param in enumerate(params):
            where = f"{self.name}: parameter {i} of group {group_index}"
            if not isinstance(param, Tensor):
                raise TypeError(f"{where} is a {type(param).__name__}: an optimizer can only optimize Tensors")
            if not param.is_leaf:
                raise ValueError(f"{where} is not a leaf tensor (it was computed by an op): "
                                 "optimize the leaves, e.g. the module's parameters()")
            if param.dtype.kind != "f":
                raise TypeError(f"{where} has dtype {param.dtype}: only floating-point tensors can be optimized")
            if id(param) in seen:
                raise ValueError(f"{where} appears more than once (in this group or an earlier one): "
                                 "each parameter may be given to an optimizer only once")
            seen.add(id(param))

    def _check_options(self, group):
        """Raise ValueError for an option out of range (subclasses check their own)."""
        if not isinstance(group["lr"], numbers.Real) or not group["lr"] >= 0:
            raise ValueError(f"{self.name}: invalid learning rate {group['lr']!r}: lr must be a number >= 0")
        if not isinstance(group["weight_decay"], numbers.Real) or not group["weight_decay"] >= 0:
            raise ValueError(f"{self.name}: invalid weight_decay {group['weight_decay']!r}: it must be a number >= 0")

    # -- gradients ----------------------------------------------------------------------------
    def zero_grad(self, set_to_none=True):
        """Forget the gradients: set each .grad to None, or (set_to_none=False) fill it with zeros."""
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                if set_to_none:
                    param.grad = None
                elif param.grad.grad_fn is not None:  # a differentiable gradient: keep the graph's data intact
                    param.grad = Tensor(get_array_module(param.grad.array).zeros_like(param.grad.array))
                else:
                    param.grad.array[...] = 0

    # -- the update -----------------------------------------------------------------------------
    def step(self, closure=None):
        """Update every parameter that has a .grad (parameters without one are skipped, as torch).

        `closure`, if given, re-evaluates the model and returns the loss; it runs with grad enabled.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group, flat in zip(self.param_groups, self._flat_groups):
            tracing.traced("optimizer", f"{self.name}.step", self._step_group, group, flat)
        return loss

    def _step_group(self, group, flat):
        flat.refresh()
        gradient, active = flat.gather_gradients()
        if gradient is None:
            return
        flat.count_modification()
        per_parameter = self._advance(group, flat, slice(None) if active is None else active)
        coefficients = {name: flat.per_element(values, active) for name, values in per_parameter.items()}
        state = {name: flat.element_state(name) for name in self._element_state_names(group)}
        if active is None:  # the usual case: every parameter has a gradient; update in place
            self._update_in_blocks(group, flat.array, gradient, state, coefficients, flat.scratch())
            return
        # Some parameters have no gradient: gather the others' elements, update, put them back.
        elements = flat.element_mask(active)
        param, selected_state = flat.array[elements], {name: array[elements] for name, array in state.items()}
        self._update_in_blocks(group, param, gradient, selected_state, coefficients, flat.scratch())
        flat.array[elements] = param
        for name, array in state.items():
            array[elements] = selected_state[name]

    def _update_in_blocks(self, group, param, gradient, state, coefficients, scratch):
        """Run `_update` over cache-sized blocks of the flat arrays (see _BLOCK)."""
        block_size = _block_size(param)
        for start in range(0, param.size, block_size):
            block = slice(start, start + block_size)
            block_param = param[block]
            self._update(group, block_param, gradient[block],
                         {name: array[block] for name, array in state.items()},
                         scratch[:block_param.size],
                         **{name: value if isinstance(value, numbers.Number) else value[block]
                            for name, value in coefficients.items()})

    def _element_state_names(self, group):
        """The per-element arrays this group's options need (e.g. max_exp_avg_sq only with amsgrad)."""
        return self.element_state_names

    def _advance(self, group, flat, which):
        """Per-parameter bookkeeping of one step for the parameters `which` (a slice or a mask);
        returns {name: one number per updated parameter} for `_update`."""
        raise NotImplementedError

    def _update(self, group, param, grad, state, scratch, **coefficients):
        """The element-wise update, in place, on equally long 1-d arrays: `param`, `grad` (a
        scratch copy of the gradient that may be overwritten), the `state` arrays, and `scratch`.
        Each coefficient is a Python number, or an array of one number per element."""
        raise NotImplementedError

    # -- saving and loading -----------------------------------------------------------------------
    def state_dict(self):
        """{'state': {index: {name: value}}, 'param_groups': [{..., 'params': [indices]}]}, as torch.

        Indices count parameters across groups in order. The state tensors share memory with the
        optimizer's buffers (as torch's do): save or copy them before stepping again.
        """
        state, param_groups, first_index = {}, [], 0
        for group, flat in zip(self.param_groups, self._flat_groups):
            options = {key: value for key, value in group.items() if key != "params"}
            param_groups.append({**options, "params": list(range(first_index, first_index + len(flat.params)))})
            for i in numpy.flatnonzero(flat.has_state):
                state[first_index + int(i)] = flat.parameter_state_dict(int(i))
            first_index += len(flat.params)
        return {"state": state, "param_groups": param_groups}

    def load_state_dict(self, state_dict):
        """Restore options and state from `state_dict()` (e.g. after minigan.load); values are copied."""
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            got = list(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"{self.name}.load_state_dict: expected a dict with keys 'state' and "
                             f"'param_groups', got {got}")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{self.name}.load_state_dict: loaded state dict has {len(saved_groups)} "
                             f"parameter groups, this optimizer has {len(self.param_groups)}")
        sizes = [(len(saved["params"]), len(group["params"])) for saved, group in zip(saved_groups, self.param_groups)]
        if any(saved != own for saved, own in sizes):
            raise ValueError(f"{self.name}.load_state_dict: loaded parameter groups have "
                             f"{[saved for saved, _ in sizes]} parameters, this optimizer's have "
                             f"{[own for _, own in sizes]}")
        new_groups = [self._loaded_group(saved, group) for saved, group in zip(saved_groups, self.param_groups)]
        # Check and convert every entry first, so that a bad one leaves the optimizer unchanged.
        states = [self._checked_states(flat, saved["params"], state_dict["state"])
                  for saved, flat in zip(saved_groups, self._flat_groups)]
        for flat, group_states in zip(self._flat_groups, states):
            flat.clear_state()
            for i, scalars, arrays in group_states:
                flat.load_parameter_state(i, scalars, arrays)
        for group, new_group in zip(self.param_groups, new_groups):
            group.update(new_group)  # in place: code holding a group dict (schedulers) sees the change

    def _loaded_group(self, saved, group):
        """`group` with the options of the saved group (torch-only keys such as 'foreach' ignored)."""
        unsupported = [key for key in ("maximize", "decoupled_weight_decay") if saved.get(key) and not
                       getattr(self, key, False)]
        if unsupported:
            raise ValueError(f"{self.name}.load_state_dict: the saved group uses {unsupported}, which "
                             f"minigan's {self.name} does not implement")
        options = {key: value for key, value in saved.items() if key in self.defaults}
        if "betas" in options:
            options["betas"] = tuple(options["betas"])
        loaded = {**group, **options}
        self._check_options(loaded)
        return loaded

    def _checked_states(self, flat, indices, saved_state):
        """[(i, {name: number}, {name: flat array})] for the parameters of `flat` with saved state."""
        flat.refresh()
        device = backend.device_of(flat.array)
        states = []
        for i, index in enumerate(indices):
            scalars, arrays = {}, {}
            for name, value in (saved_state.get(index) or {}).items():
                if value is None:
                    continue
                if name in self.parameter_state_names:
                    scalars[name] = float(value)
                elif name in self.element_state_names:
                    array = backend.as_array(value.array if isinstance(value, Tensor) else value, device=device)
                    if array.size != flat.sizes[i]:
                        raise ValueError(f"{self.name}.load_state_dict: state {name!r} of parameter {index} "
                                         f"has shape {array.shape}, the parameter has shape {flat.shapes[i]}")
                    arrays[name] = array.reshape(-1)
                else:
                    raise ValueError(f"{self.name}.load_state_dict: state of parameter {index} has an entry "
                                     f"{name!r}, which {self.name} does not keep (expected "
                                     f"{self.parameter_state_names + self.element_state_names})")
            if scalars or arrays:
                states.append((i, scalars, arrays))
        return states

    def __repr__(self):
        lines = [f"{self.name} ("]
        for index, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {index}")
            lines.extend(f"    {key}: {group[key]}" for key in sorted(group) if key != "params")
        return "\n".join(lines + [")"])


class FlatGroup:
    """One parameter group flattened: the parameters' .array are views into one array, `data`."""

    def __init__(self, params, name):
        self.params = params
        self.name = name
        self.shapes = [p.shape for p in params]
        self.sizes = numpy.array([p.numel() for p in params], dtype=numpy.int64)
        self.bounds = [0] + numpy.cumsum(self.sizes).tolist()  # parameter i is data[bounds[i]:bounds[i + 1]]
        self.has_state = numpy.zeros(len(params), dtype=bool)  # torch: state[p] is not empty
        self.parameter_states = {}  # name -> host array, one number per parameter
        self.element_states = {}    # name -> array as long as `data`
        self._adopt_parameter_data()

    def _adopt_parameter_data(self):
        """Copy the parameters into one flat array and make each .array a view of its slice."""
        arrays = [p.array for p in self.params]
        dtypes = sorted({str(array.dtype) for array in arrays})
        if len(dtypes) > 1:
            raise TypeError(f"{self.name}: parameters of one group must share a dtype, got {dtypes}; "
                            "convert the model (e.g. model.float()) or put them in separate groups")
        changed = [i for i, array in enumerate(arrays) if array.size != self.sizes[i]]
        if changed:
            raise ValueError(f"{self.name}: parameter {changed[0]} changed shape from "
                             f"{self.shapes[changed[0]]} to {arrays[changed[0]].shape} after the "
                             "optimizer was built; build a new optimizer for the new parameters")
        devices = sorted({backend.device_of(array) for array in arrays})
        if len(devices) > 1:
            raise backend.DeviceMismatchError(f"{self.name}: parameters of one group must be on one device, "
                                              f"got {' and '.join(devices)}; move the model with model.to(device)")
        xp = get_array_module(arrays[0])
        self.array = xp.concatenate(arrays, axis=None)
        self.views = [self.array[start:end].reshape(shape)
                      for start, end, shape in zip(self.bounds, self.bounds[1:], self.shapes)]
        for param, view in zip(self.params, self.views):
            param.array = view
        # the state follows the parameters to their (possibly new) dtype and device
        self.element_states = {name: backend.to_device(array, devices[0]).astype(self.array.dtype, copy=False)
                               for name, array in self.element_states.items()}
        self._gradient_buffer = self._scratch = None

    def refresh(self):
        """Rebuild the views if someone replaced a parameter's .array since the last step."""
        if not all(map(operator.is_, [p.array for p in self.params], self.views)):
            self._adopt_parameter_data()

    def count_modification(self):
        """The step changes the parameters in place: their versions go up, so a backward through a
        graph that saved them before the step refuses to run, as torch's does (the classic GAN
        mistake of stepping D between computing G's loss through D and its backward)."""
        for param in self.params:
            param._version_counter.bump()

    def gather_gradients(self):
        """(flat gradient, active): the gradients in one array, made by one concatenate, and
        active = None when every parameter has a .grad, else a mask of those that do.
        (None, None) when no parameter has one."""
        grads = [p.grad for p in self.params]
        present = [grad is not None for grad in grads]
        if not any(present):
            return None, None
        grads = [grad.array for grad in grads if grad is not None]
        self._check_gradient_shapes(grads, present)
        xp = get_array_module(self.array)
        if all(present):
            if self._gradient_buffer is None:
                self._gradient_buffer = xp.empty_like(self.array)
            return xp.concatenate(grads, axis=None, out=self._gradient_buffer), None
        return xp.concatenate(grads, axis=None).astype(self.array.dtype, copy=False), numpy.array(present)

    def _check_gradient_shapes(self, grads, present):
        shapes = [shape for shape, has_grad in zip(self.shapes, present) if has_grad]
        if [grad.shape for grad in grads] != shapes:
            i, shape, grad_shape = next((i, shape, grad.shape) for i, (shape, grad) in
                                        enumerate(zip(shapes, grads)) if grad.shape != shape)
            raise ValueError(f"{self.name}: the parameter with shape {shape} (the {i + 1}-th with "
                             f"a gradient) has a .grad of shape {grad_shape}; they must match")

    def element_mask(self, active):
        """The elements of the parameters marked in `active`, as a mask over `data`: built from the
        host flags on the host and copied over once (on a GPU, a repeat by device counts would
        wait for the device to learn the output's length)."""
        return backend.as_array(numpy.repeat(active, self.sizes), device=backend.device_of(self.array))

    def per_element(self, values, active=None):
        """One number per updated parameter (all, or those in `active`) as a single Python number
        when all are equal (the usual case: every parameter took the same number of steps), else
        as an array with one number per element."""
        if (values == values[0]).all():
            return values[0].item()
        sizes = self.sizes if active is None else self.sizes[active]
        return backend.as_array(numpy.repeat(values, sizes), device=backend.device_of(self.array))

    def scratch(self):
        """A work array of one block (reused across steps: fresh memory costs page faults)."""
        if self._scratch is None:
            self._scratch = get_array_module(self.array).empty(min(_block_size(self.array), self.array.size),
                                                              self.array.dtype)
        return self._scratch

    # -- state ------------------------------------------------------------------------------
    def element_state(self, name):
        """The flat per-element array `name`, created as zeros on first use."""
        if name not in self.element_states:
            self.element_states[name] = get_array_module(self.array).zeros_like(self.array)
        return self.element_states[name]

    def parameter_state(self, name):
        """The per-parameter numbers `name` (e.g. step counts), created as zeros on first use."""
        if name not in self.parameter_states:
            self.parameter_states[name] = numpy.zeros(len(self.params))
        return self.parameter_states[name]

    def clear_state(self):
        self.has_state[:] = False
        self.parameter_states.clear()
        self.element_states.clear()

    def parameter_state_dict(self, i):
        """Parameter i's state as torch lays it out: numbers as 0-d tensors (torch's 'step' is a
        float tensor), arrays as tensors of the parameter's shape that view the flat buffers."""
        start, end = self.bounds[i], self.bounds[i + 1]
        state = {name: Tensor(numpy.asarray(values[i], dtype=default_dtype()))
                 for name, values in self.parameter_states.items()}
        state.update({name: Tensor(array[start:end].reshape(self.shapes[i]))
                      for name, array in self.element_states.items()})
        return state

    def load_parameter_state(self, i, numbers, arrays):
        """Set parameter i's state: per-parameter `numbers` and flat per-element `arrays`."""
        for name, value in numbers.items():
            self.parameter_state(name)[i] = value
        for name, array in arrays.items():
            self.element_state(name)[self.bounds[i]:self.bounds[i + 1]] = array
        self.has_state[i] = True
