"""Graph drawing: the graph that produced a tensor, as Graphviz DOT text or as an SVG/PNG file.

`to_dot(tensor)` walks from the tensor's Function back to the leaves and writes one node per
Function (op name, output shape, dtype) and one per leaf (shape, dtype, and the parameter's name
when `params` names it), with edges the way values flow: input -> op -> consumer.

A gradient computed with `create_graph=True` is a graph too. Its Functions are the ops that the
backward recorded, and it reaches back into the forward graph wherever a backward read a forward
output or input (Tanh's backward reads tanh(x), MatMul's reads the other factor), so drawing it
shows both. Ops recorded during a backward pass carry the name of the backward that made them
(`Function.in_backward_of`, set when they are recorded); they are drawn in orange, forward ops in blue.

`draw(tensor, path)` hands the DOT text to Graphviz's `dot` program.
"""
import os
import shutil
import subprocess

from minigan.tensor import Tensor

_NODE_STYLES = {
    "forward": 'shape=box, style="rounded,filled", fillcolor="#d6e6f5"',
    "backward": 'shape=box, style="rounded,filled", fillcolor="#fbd3a8"',
    "parameter": 'shape=ellipse, style=filled, fillcolor="#cfe8cc"',
    "leaf": 'shape=ellipse, style=filled, fillcolor="#fff1a8"',  # a leaf that requires grad
    "constant": 'shape=ellipse, style=dashed, color="#808080", fontcolor="#505050"',
}
_INSTALL_HINT = ("install Graphviz (apt-get install graphviz, brew install graphviz or "
                 "conda install graphviz) or render the text of to_dot(tensor) elsewhere")


def to_dot(tensor, params=None):
    """The graph that produced `tensor`, as Graphviz DOT text.

    `params` names leaves: a dict name -> tensor (`dict(model.named_parameters())`) or a Module,
    whose parameters and buffers are then labelled with their dotted names ("main.0.weight").
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dot: expected a Tensor, got {type(tensor).__name__}")
    names = _leaf_names(params)
    nodes, edges = _walk(tensor)
    lines = ["digraph minigan {", '  node [fontname="Helvetica", fontsize=10];']
    for node_id, node in nodes.items():
        kind, label = _describe(node, names)
        emphasis = ", penwidth=2" if node_id == "n0" else ""  # the tensor asked about
        lines.append(f'  {node_id} [label="{label}", {_NODE_STYLES[kind]}{emphasis}];')
    lines.extend(f"  {source} -> {target};" for source, target in edges)
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw(tensor, path, params=None):
    """Write the graph of `tensor` to `path` (.svg or .png) with Graphviz's `dot`; returns `path`."""
    image_format = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if image_format not in ("svg", "png"):
        raise ValueError(f"draw: cannot tell the image format of {os.fspath(path)!r}: "
                         "give a path ending in .svg or .png")
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(f"draw: Graphviz's `dot` program is not on the PATH; {_INSTALL_HINT}")
    result = subprocess.run([dot, f"-T{image_format}", "-o", os.fspath(path)],
                            input=to_dot(tensor, params), capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"draw: dot failed with exit status {result.returncode}: {result.stderr.strip()}")
    return path


def _leaf_names(params):
    """id(tensor) -> name, from a dict name -> tensor or from a Module."""
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        named = [*params.named_parameters(), *params.named_buffers()]
    else:
        named = list(dict(params).items())
    for name, value in named:
        if not isinstance(value, Tensor):
            raise TypeError(f"to_dot: params[{name!r}] is a {type(value).__name__}, not a Tensor")
    return {id(value): name for name, value in named}


def _walk(tensor):
    """The nodes (node id -> the tensor that first led to it) and the edges (input id, consumer id).

    A node is a Function, or a leaf tensor: every tensor a Function produced stands for that
    Function. The walk keeps its own stack, so a graph of any depth is fine, and visits each node
    once; an op that reads one input twice (x * x) gets two edges from it.
    """
    def key(t):
        return t.grad_fn if t.grad_fn is not None else id(t)

    node_ids = {key(tensor): "n0"}
    nodes = {"n0": tensor}
    edges = []
    stack = [tensor]
    while stack:
        consumer = stack.pop()
        function = consumer.grad_fn
        if function is None or function.inputs is None:  # a leaf, or a graph freed by backward
            continue
        for x in function.inputs:
            node_id = node_ids.get(key(x))
            if node_id is None:
                node_id = node_ids[key(x)] = f"n{len(node_ids)}"
                nodes[node_id] = x
                stack.append(x)
            edges.append((node_id, node_ids[function]))
    return nodes, edges


def _describe(tensor, names):
    """The style and the DOT label of the node that `tensor` stands for."""
    shape_and_dtype = f"{tensor.shape} {tensor.dtype}" + ("" if tensor.device == "cpu" else f" {tensor.device}")
    function = tensor.grad_fn
    if function is not None:
        lines = [function.name, shape_and_dtype]
        in_backward_of = function.in_backward_of  # a Function, or "backward": the engine's sums
        if in_backward_of is not None:
            lines.append("in backward" if in_backward_of == "backward" else f"in {in_backward_of.name}.backward")
        if function.inputs is None:
            lines.append("(freed by backward)")
        return ("backward" if in_backward_of is not None else "forward"), _label(lines)
    name = names.get(id(tensor))
    if tensor.requires_grad:
        return ("parameter" if name else "leaf"), _label([name, shape_and_dtype])
    if name is None and tensor.array.size == 1:
        name = f"{tensor.item():.6g}"  # a number the code used, such as the 1 in `1 - y`
    return "constant", _label([name or "constant", shape_and_dtype])


def _label(lines):
    """Lines joined by DOT's line break, with quotes and backslashes escaped."""
    return r"\n".join(str(line).replace("\\", "\\\\").replace('"', '\\"') for line in lines if line)
