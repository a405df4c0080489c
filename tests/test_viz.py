"""minigan.viz: the DOT text of known graphs, read back node by node and edge by edge."""
import os
import re
import shutil
import sys

import pytest

import minigan
import minigan.nn as nn
from minigan import viz

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
sys.path.insert(0, EXAMPLES)

NODE = re.compile(r'^  (n\d+) \[label="((?:[^"\\]|\\.)*)", (.*)\];$')
EDGE = re.compile(r"^  (n\d+) -> (n\d+);$")


class Graph:
    """The DOT text of to_dot read back: labels (a list of lines per node), styles, edges."""

    def __init__(self, dot):
        lines = dot.splitlines()
        assert lines[0] == "digraph minigan {" and lines[-1] == "}"
        self.labels, self.styles, self.edges = {}, {}, []
        for line in lines[2:-1]:
            node, edge = NODE.match(line), EDGE.match(line)
            assert node or edge, f"not a node or an edge: {line!r}"
            if node:
                self.labels[node[1]] = node[2].split(r"\n")
                self.styles[node[1]] = node[3]
            else:
                self.edges.append((edge[1], edge[2]))
        assert all(a in self.labels and b in self.labels for a, b in self.edges)

    def named(self, first_line):
        """The ids of the nodes whose label starts with `first_line` (an op or parameter name)."""
        return [node for node, label in self.labels.items() if label[0] == first_line]

    def one(self, first_line):
        (node,) = self.named(first_line)
        return node

    def count(self, first_line):
        return len(self.named(first_line))

    def consumers(self, node):
        return [self.labels[b][0] for a, b in self.edges if a == node]


def leaf(values, dtype=minigan.float64):
    return minigan.tensor(values, dtype=dtype, requires_grad=True)


def test_a_small_graph_has_one_node_per_function_and_leaf_and_edges_as_values_flow():
    a = leaf([1.0, 2.0, 3.0])
    graph = Graph(viz.to_dot((a * a.exp()).sum()))
    assert len(graph.labels) == 4
    x = next(node for node, label in graph.labels.items() if label == ["(3,) float64"])
    exp, mul, total = graph.one("Exp"), graph.one("Mul"), graph.one("Sum")
    assert sorted(graph.edges) == sorted([(x, exp), (x, mul), (exp, mul), (mul, total)])
    assert graph.labels[exp] == ["Exp", "(3,) float64"]
    assert graph.labels[total] == ["Sum", "() float64"]
    assert "penwidth=2" in graph.styles[total] and "penwidth" not in graph.styles[mul]


def test_an_input_read_twice_gives_two_edges_and_one_node():
    x = leaf([1.0, 2.0], dtype=minigan.float32)
    graph = Graph(viz.to_dot(x * x))
    assert len(graph.labels) == 2
    assert graph.edges == [("n1", "n0"), ("n1", "n0")]
    assert graph.labels["n1"] == ["(2,) float32"]


def test_constants_show_their_value_and_arrays_their_shape():
    x = leaf([1.0, 2.0])
    mask = minigan.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=minigan.float64)
    graph = Graph(viz.to_dot((2.5 * x) @ mask))
    assert graph.labels[graph.one("2.5")] == ["2.5", "() float64"]
    assert graph.labels[graph.one("constant")] == ["constant", "(2, 2) float64"]
    assert "dashed" in graph.styles[graph.one("constant")]


def test_a_leaf_alone_is_one_node():
    graph = Graph(viz.to_dot(leaf([[1.0]])))
    assert graph.labels == {"n0": ["(1, 1) float64"]} and graph.edges == []


@pytest.mark.parametrize("as_dict", [False, True], ids=["module", "named_parameters"])
def test_parameters_are_labelled_with_their_module_names(as_dict):
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    output = model(minigan.randn(5, 3, dtype=minigan.float64)).sum()
    graph = Graph(viz.to_dot(output, params=dict(model.named_parameters()) if as_dict else model))
    for name, shape in [("0.weight", (4, 3)), ("0.bias", (4,)), ("2.weight", (1, 4)), ("2.bias", (1,))]:
        node = graph.one(name)
        assert graph.labels[node] == [name, f"{shape} float64"]
        assert "#cfe8cc" in graph.styles[node]  # drawn as a parameter
        assert graph.consumers(node)
    assert graph.count("Tanh") == 1


def test_bad_arguments_get_clear_errors():
    with pytest.raises(TypeError, match="to_dot: expected a Tensor, got list"):
        viz.to_dot([1.0])
    with pytest.raises(TypeError, match=r"params\['w'\] is a float"):
        viz.to_dot(leaf([1.0]), params={"w": 1.0})


def test_a_freed_graph_is_drawn_down_to_its_freed_node():
    a = leaf([1.0, 2.0])
    loss = a.exp().sum()
    loss.backward()
    graph = Graph(viz.to_dot(loss))
    assert graph.labels == {"n0": ["Sum", "() float64", "(freed by backward)"]}


def test_a_gradient_graph_reaches_back_into_the_forward_graph():
    """d/da Σ a·eᵃ = eᵃ + a·eᵃ: the backward's products read the forward's Exp node and a."""
    a = leaf([1.0, 2.0, 3.0])
    (gradient,) = minigan.grad((a * a.exp()).sum(), a, create_graph=True)
    graph = Graph(viz.to_dot(gradient))
    exp = graph.one("Exp")
    assert graph.consumers(exp).count("Mul") == 2  # g·eᵃ in Mul's backward, g·eᵃ in Exp's backward
    assert graph.labels[graph.one("Add")][:2] == ["Add", "(3,) float64"]  # the two paths to a, summed
    assert graph.count("Mul") == 3


def test_ops_marked_as_built_in_a_backward_are_drawn_apart():
    a = leaf([1.0, 2.0])
    y = a.tanh() * 3.0
    y.grad_fn.in_backward_of = y.grad_fn.inputs[0].grad_fn  # as if Tanh's backward had made the Mul
    graph = Graph(viz.to_dot(y))
    mul, tanh = graph.one("Mul"), graph.one("Tanh")
    assert graph.labels[mul] == ["Mul", "(2,) float64", "in Tanh.backward"]
    assert "#fbd3a8" in graph.styles[mul] and "#d6e6f5" in graph.styles[tanh]


def test_the_engine_marks_the_ops_each_backward_recorded():
    a = leaf([1.0, 2.0, 3.0])
    (gradient,) = minigan.grad((a * a.exp()).sum(), a, create_graph=True)
    graph = Graph(viz.to_dot(gradient))
    marks = sorted(label[2] for label in graph.labels.values() if len(label) == 3)
    assert marks == ["in Exp.backward", "in Mul.backward", "in Mul.backward", "in backward"]
    assert graph.labels[graph.one("Exp")] == ["Exp", "(3,) float64"]  # the forward's own node


def wgan_gp_critic_loss():
    """The WGAN-GP critic's loss with its penalty, as examples/wgan_gp.py builds it, at tiny size."""
    from dcgan import Discriminator
    from wgan_gp import gradient_penalty
    minigan.manual_seed(0)
    critic = Discriminator(2, 1, 32, norm=lambda width: nn.InstanceNorm2d(width, affine=True), sigmoid=False)
    real, fake = minigan.randn(2, 1, 32, 32), minigan.randn(2, 1, 32, 32)
    loss = critic(fake).mean() - critic(real).mean() + 10 * gradient_penalty(critic, real, fake)
    return critic, loss


def test_the_wgan_gp_critic_loss_shows_forward_and_gradient_graphs():
    critic, loss = wgan_gp_critic_loss()
    graph = Graph(viz.to_dot(loss, params=critic))
    # 4 convolutions, run on fake, real and the interpolates x̂; the penalty's gradient takes one
    # transposed convolution per convolution back to x̂. The last convolution is linear: its
    # backward reads only its weight, so the penalty never reaches that convolution's node on x̂
    assert graph.count("Conv2d") == 4 * 3 - 1
    assert graph.count("ConvTranspose2d") == 4
    assert sorted(graph.consumers(graph.one("main.0.weight"))) == ["Conv2d"] * 3 + ["ConvTranspose2d"]
    assert sorted(graph.consumers(graph.one("main.8.weight"))) == ["Conv2d"] * 2 + ["ConvTranspose2d"]
    names = {name for name, _ in critic.named_parameters()}
    assert names == {name for name in names if graph.count(name) == 1}
    assert graph.count("Norm2") == 1  # ‖∇x̂ D(x̂)‖ per example


def test_the_wgan_gp_penalty_marks_its_transposed_convolutions_as_conv2d_backward():
    _, loss = wgan_gp_critic_loss()
    graph = Graph(viz.to_dot(loss))
    assert {graph.labels[node][2] for node in graph.named("ConvTranspose2d")} == {"in Conv2d.backward"}
    assert all(len(graph.labels[node]) == 2 for node in graph.named("Conv2d"))


def test_a_chain_of_10000_ops_is_drawn_without_recursion():
    x = leaf([1.0, 2.0])
    y = x
    for _ in range(10_000):
        y = -y
    limit = sys.getrecursionlimit()
    graph = Graph(viz.to_dot(y))
    assert sys.getrecursionlimit() == limit
    assert len(graph.labels) == 10_001 and len(graph.edges) == 10_000
    assert graph.count("Neg") == 10_000


@pytest.mark.parametrize("extension, magic", [(".svg", b"<svg"), (".png", b"\x89PNG")])
def test_draw_without_graphviz_draws_with_matplotlib(tmp_path, monkeypatch, extension, magic):
    monkeypatch.setattr(shutil, "which", lambda program: None)  # no Graphviz
    critic, loss = wgan_gp_critic_loss()
    path = tmp_path / f"critic{extension}"
    assert viz.draw(loss, path, params=critic) == path
    assert magic in path.read_bytes()[:400]


def test_draw_hands_the_dot_text_to_graphviz_where_it_is_installed(tmp_path, monkeypatch):
    """A stand-in `dot` on the PATH records how it is called and writes the image."""
    fake = tmp_path / "dot"
    fake.write_text(f"#!{sys.executable}\nimport sys, pathlib\n"
                    "pathlib.Path(sys.argv[sys.argv.index('-o') + 1]).write_text(sys.stdin.read() + ' '.join(sys.argv))\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    path = tmp_path / "graph.svg"
    assert viz.draw(leaf([1.0]).exp(), path) == path
    written = path.read_text()
    assert written.startswith("digraph minigan {") and "-Tsvg" in written and "Exp" in written


def test_draw_without_a_path_returns_a_matplotlib_figure():
    x = leaf([0.5, -1.0])
    (gradient,) = minigan.grad((x.tanh() * x).sum(), x, create_graph=True)
    figure = viz.draw(gradient)
    texts = [text.get_text() for text in figure.axes[0].texts]
    assert any(text.startswith("TanhGrad") for text in texts) and any("in Tanh.backward" in t for t in texts)


def test_draw_needs_an_svg_or_png_path(tmp_path):
    with pytest.raises(ValueError, match=r"draw: cannot tell the image format of .*graph\.pdf"):
        viz.draw(leaf([1.0]).exp(), tmp_path / "graph.pdf")


def example_graph(name):
    """A loss of the example `name` and the parameters to label, at tiny sizes."""
    import dcgan
    import mnist_mlp
    import slanted_faces
    minigan.manual_seed(0)
    if name == "slanted_faces":
        D = slanted_faces.Discriminator()
        return -D(minigan.tensor(slanted_faces.FACES[0])).log(), {"D.weights": D.weights, "D.bias": D.bias}
    if name == "mnist_mlp":
        G, D = mnist_mlp.build_default()
        loss = nn.functional.binary_cross_entropy_with_logits(D(G(minigan.rand(2, 96))), minigan.ones(2, 1))
    else:
        G, D = dcgan.Generator(8, 2, 1, 32), dcgan.Discriminator(2, 1, 32)
        loss = nn.BCELoss()(D(G(minigan.randn(2, 8, 1, 1))), minigan.ones(2))
    return loss, {**{f"G.{k}": v for k, v in G.named_parameters()}, **{f"D.{k}": v for k, v in D.named_parameters()}}


# op name -> how many nodes of it the loss graph of each example has
EXAMPLE_OPS = {
    "slanted_faces": {"Mul": 1, "Sum": 1, "Add": 1, "Sigmoid": 1, "Log": 1, "Neg": 1},
    "mnist_mlp": {"LinearMap": 6, "Add": 6, "ReLU": 2, "Tanh": 1, "LeakyReLU": 2,
                  "BinaryCrossEntropyWithLogits": 1},
    "dcgan": {"ConvTranspose2d": 4, "Conv2d": 4, "Tanh": 1, "Sigmoid": 1, "BinaryCrossEntropy": 1},
}


@pytest.mark.parametrize("name", sorted(EXAMPLE_OPS))
def test_each_examples_loss_graph_has_its_ops_and_named_parameters(name):
    loss, params = example_graph(name)
    graph = Graph(viz.to_dot(loss, params=params))
    for op, count in EXAMPLE_OPS[name].items():
        assert graph.count(op) == count, op
    for param_name in params:
        assert graph.consumers(graph.one(param_name)), param_name  # every parameter feeds an op
