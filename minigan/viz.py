"""Graph drawing: the graph that produced a tensor, as Graphviz DOT text or as an SVG/PNG file.

`to_dot(tensor)` walks from the tensor's Function back to the leaves and writes one node per
Function (op name, output shape, dtype) and one per leaf (shape, dtype, and the parameter's name
when `params` names it), with edges the way values flow: input -> op -> consumer.

A gradient computed with `create_graph=True` is a graph too. Its Functions are the ops that the
backward recorded, and it reaches back into the forward graph wherever a backward read a forward
output or input (Tanh's backward reads tanh(x), MatMul's reads the other factor), so drawing it
shows both. Ops recorded during a backward pass carry the name of the backward that made them
(`Function.in_backward_of`, set when they are recorded); they are drawn in orange, forward ops in blue.

`draw(tensor, path)` hands the DOT text to Graphviz's `dot` program where it is installed, and
otherwise draws the same nodes with matplotlib, in layers laid out by networkx (from the leaves
at the top to the tensor at the bottom); without a path it returns the matplotlib figure, for a
notebook.
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


# the same styles for matplotlib: (box or ellipse, fill colour, edge colour, dashed)
_MATPLOTLIB_STYLES = {
    "forward": ("round", "#d6e6f5", "#4d4d4d", False),
    "backward": ("round", "#fbd3a8", "#4d4d4d", False),
    "parameter": ("ellipse", "#cfe8cc", "#4d4d4d", False),
    "leaf": ("ellipse", "#fff1a8", "#4d4d4d", False),
    "constant": ("ellipse", "white", "#808080", True),
}


def _graph(tensor, params):
    """(nodes: node id -> (kind, label lines), edges) of the graph behind `tensor`."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dot: expected a Tensor, got {type(tensor).__name__}")
    names = _leaf_names(params)
    nodes, edges = _walk(tensor)
    return {node_id: _describe(node, names) for node_id, node in nodes.items()}, edges


def to_dot(tensor, params=None):
    """The graph that produced `tensor`, as Graphviz DOT text.

    `params` names leaves: a dict name -> tensor (`dict(model.named_parameters())`) or a Module,
    whose parameters and buffers are then labelled with their dotted names ("main.0.weight").
    """
    nodes, edges = _graph(tensor, params)
    lines = ["digraph minigan {", '  node [fontname="Helvetica", fontsize=10];']
    for node_id, (kind, label) in nodes.items():
        emphasis = ", penwidth=2" if node_id == "n0" else ""  # the tensor asked about
        lines.append(f'  {node_id} [label="{_label(label)}", {_NODE_STYLES[kind]}{emphasis}];')
    lines.extend(f"  {source} -> {target};" for source, target in edges)
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw(tensor, path=None, params=None):
    """Draw the graph of `tensor`: into `path` (.svg or .png), which is returned, with Graphviz's
    `dot` where it is installed and with matplotlib otherwise; without a path, as a matplotlib
    figure, which is returned (a notebook shows it)."""
    if path is None:
        return _matplotlib_figure(*_graph(tensor, params))
    image_format = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if image_format not in ("svg", "png"):
        raise ValueError(f"draw: cannot tell the image format of {os.fspath(path)!r}: "
                         "give a path ending in .svg or .png")
    dot = shutil.which("dot")
    if dot is None:
        figure = _matplotlib_figure(*_graph(tensor, params))
        figure.savefig(os.fspath(path), format=image_format, bbox_inches="tight")
        figure.clf()
        return path
    result = subprocess.run([dot, f"-T{image_format}", "-o", os.fspath(path)],
                            input=to_dot(tensor, params), capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"draw: dot failed with exit status {result.returncode}: {result.stderr.strip()}")
    return path


def _matplotlib_figure(nodes, edges):
    """The graph drawn with matplotlib: layers by networkx, from the leaves (top) to the tensor."""
    import networkx  # only drawing needs these
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch

    graph = networkx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)
    for depth, layer in enumerate(networkx.topological_generations(graph)):
        for node_id in layer:
            graph.nodes[node_id]["layer"] = depth
    layers = max(graph.nodes[node_id]["layer"] for node_id in graph) + 1
    widest = max(sum(1 for n in graph if graph.nodes[n]["layer"] == depth) for depth in range(layers))
    positions = networkx.multipartite_layout(graph, subset_key="layer", align="horizontal", scale=1.0)
    positions = {node_id: (x * max(widest, 1), -y * layers) for node_id, (x, y) in positions.items()}
    figure = Figure(figsize=(max(4.0, 2.2 * widest), max(3.0, 1.1 * layers)))
    axes = figure.add_subplot()
    for source, target in edges:
        axes.add_patch(FancyArrowPatch(positions[source], positions[target], arrowstyle="-|>", mutation_scale=10,
                                       color="#606060", shrinkA=14, shrinkB=14))
    for node_id, (kind, label) in nodes.items():
        shape, fill, edge, dashed = _MATPLOTLIB_STYLES[kind]
        axes.text(*positions[node_id], "\n".join(str(line) for line in label if line), ha="center", va="center",
                  fontsize=8, bbox=dict(boxstyle=f"{shape},pad=0.4", facecolor=fill, edgecolor=edge,
                                        linestyle="--" if dashed else "-", linewidth=2 if node_id == "n0" else 1))
    axes.set_xlim(min(x for x, _ in positions.values()) - 1, max(x for x, _ in positions.values()) + 1)
    axes.set_ylim(min(y for _, y in positions.values()) - 1, max(y for _, y in positions.values()) + 1)
    axes.axis("off")
    return figure


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
    """The kind (the style) and the label lines of the node that `tensor` stands for."""
    shape_and_dtype = f"{tensor.shape} {tensor.dtype}" + ("" if tensor.device == "cpu" else f" {tensor.device}")
    function = tensor.grad_fn
    if function is not None:
        lines = [function.name, shape_and_dtype]
        in_backward_of = function.in_backward_of  # a Function, or "backward": the engine's sums
        if in_backward_of is not None:
            lines.append("in backward" if in_backward_of == "backward" else f"in {in_backward_of.name}.backward")
        if function.inputs is None:
            lines.append("(freed by backward)")
        return ("backward" if in_backward_of is not None else "forward"), lines
    name = names.get(id(tensor))
    if tensor.requires_grad:
        return ("parameter" if name else "leaf"), [name, shape_and_dtype]
    if name is None and tensor.array.size == 1:
        name = f"{tensor.item():.6g}"  # a number the code used, such as the 1 in `1 - y`
    return "constant", [name or "constant", shape_and_dtype]


def _label(lines):
    """Lines joined by DOT's line break, with quotes and backslashes escaped."""
    return r"\n".join(str(line).replace("\\", "\\\\").replace('"', '\\"') for line in lines if line)
