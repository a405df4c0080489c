"""The guide cannot rot: every ```python snippet in docs/*.md and README.md runs, every code
citation `file`, `function`: `code` quotes code that function contains, and every link resolves."""
import ast
import glob
import os
import re
import shutil

import pytest

import minigan
from minigan import autograd, backend, viz

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCUMENTS = sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))) + [os.path.join(ROOT, "README.md")]
SNIPPET = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
# `examples/wgan_gp.py`, `gradient_penalty`: `code`  (the file may be a markdown link)
CITATION = re.compile(r"\[?`((?:examples|minigan)/[\w/]+\.py)`\]?(?:\([^)\s]*\))?, `([\w.]+)`: `([^`]+)`")
LINE_NUMBER = re.compile(r"\.py:\d+|\.py#L\d+")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def read(path):
    with open(path, encoding="utf-8") as file:
        return file.read()


def relative(path):
    return os.path.relpath(path, ROOT)


def snippets():
    found = []
    for path in DOCUMENTS:
        text = read(path)
        for match in SNIPPET.finditer(text):
            line = text.count("\n", 0, match.start()) + 2  # the snippet's first line
            found.append(pytest.param(path, line, match.group(1), id=f"{relative(path)}:{line}"))
    return found


def citations():
    return [pytest.param(*match.groups(), id=f"{match[1]}:{match[2]}:{match[3][:30]}")
            for path in DOCUMENTS for match in CITATION.finditer(read(path))]


def test_the_guide_is_there():
    assert {"ARCHITECTURE.md", "TUTORIAL.md", "GANS.md"} <= {os.path.basename(path) for path in DOCUMENTS}


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """A snippet runs in a temporary folder and leaves minigan's global state as it found it."""
    monkeypatch.chdir(tmp_path)
    dtype, rng_state, grad_enabled = backend.default_dtype(), minigan.get_rng_state(), autograd.is_grad_enabled()
    yield
    backend.set_default_dtype(dtype)
    minigan.set_rng_state(rng_state)
    minigan.set_grad_enabled(grad_enabled)


@pytest.mark.parametrize("path, line, code", snippets())
def test_snippet_runs(path, line, code, isolated, monkeypatch):
    if shutil.which("dot") is None:  # without Graphviz, a drawing is only its DOT text; the rest runs
        monkeypatch.setattr(viz, "draw", lambda tensor, path, params=None: viz.to_dot(tensor, params))
    # padded with blank lines, a traceback names the line of the markdown file
    exec(compile("\n" * (line - 1) + code, relative(path), "exec"), {"__name__": "__main__"})


def _definition(tree, dotted_name):
    """The function or class `dotted_name` ("critic_step", "Conv2d.backward") in a module's AST."""
    nodes = tree.body
    found = None
    for name in dotted_name.split("."):
        found = next((node for node in nodes if isinstance(node, (ast.FunctionDef, ast.ClassDef))
                      and node.name == name), None)
        if found is None:
            return None
        nodes = found.body
    return found


def _squeezed(code):
    return " ".join(code.split())


@pytest.mark.parametrize("path, name, code", citations())
def test_cited_code_is_in_the_cited_function(path, name, code):
    source = read(os.path.join(ROOT, path))
    definition = _definition(ast.parse(source), name)
    assert definition is not None, f"{path} has no function or class {name}"
    body = ast.get_source_segment(source, definition)
    assert _squeezed(code) in _squeezed(body), f"{path}, {name} does not contain `{code}`"


def test_the_maths_guide_cites_code_of_every_example():
    cited = {match[1] for match in CITATION.finditer(read(os.path.join(ROOT, "docs", "GANS.md")))}
    assert {"examples/slanted_faces.py", "examples/mnist_mlp.py", "examples/dcgan.py",
            "examples/wgan_gp.py"} <= cited


@pytest.mark.parametrize("path", DOCUMENTS, ids=relative)
def test_code_is_cited_by_name_not_by_line_number(path):
    """Line numbers move with every edit; a function name plus the quoted code does not."""
    assert LINE_NUMBER.findall(read(path)) == []


def _anchors(path):
    """The anchors GitHub makes of a markdown file's headings: lower case, punctuation dropped,
    spaces as hyphens ("## 2. The MNIST GAN" -> "2-the-mnist-gan")."""
    headings = re.findall(r"^#+ (.+)$", SNIPPET.sub("", read(path)), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("path", DOCUMENTS, ids=relative)
def test_relative_links_and_images_exist(path):
    folder = os.path.dirname(path)
    for target in LINK.findall(read(path)):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        linked = os.path.join(folder, file) if file else path
        assert os.path.exists(linked), f"{relative(path)} links to missing {target}"
        if anchor:
            assert anchor in _anchors(linked), f"{relative(path)} links to a missing heading: {target}"
