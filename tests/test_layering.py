"""The architecture's rules, held by tests (docs/architecture.md):

- the bottom layer (errors, data, labels, schedules, lr_rules, bindings, artifacts, model card, windows,
  encoder configs) imports no TensorFlow, Keras or transformers;
- dependencies point down: nothing in the bottom layer imports a module above it;
- transformers' TF model classes are named in ``backend`` only (``testing`` builds reference
  models with them; ``cli`` imports one to warm transformers up);
- easytx hangs no state on model objects (the ``bindings`` registry holds it).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import easytx

PACKAGE = Path(easytx.__file__).resolve().parent
BOTTOM = [
    "errors",
    "data",
    "labels",
    "schedules",
    "lr_rules",
    "bindings",
    "artifacts",
    "model_card",
    "windows",
    "encoders.config",
    "onnx_graph",
]
HEAVY = ("tensorflow", "keras", "tf_keras", "transformers", "torch")
MODEL_CLASS_MODULES = {"backend.py", "testing.py", "cli.py"}


def _modules() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(PACKAGE)): ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def _easytx_imports(name: str, tree: ast.Module) -> set[str]:
    """easytx modules imported anywhere in ``tree`` (module ``name``), as dotted names under easytx."""
    package = name.replace("/", ".").removesuffix(".py").split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
                if node.module is None:
                    found |= {".".join(filter(None, [target, alias.name])) for alias in node.names}
                else:
                    found.add(target)
            elif node.module and node.module.startswith("easytx."):
                found.add(node.module.removeprefix("easytx."))
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix("easytx.") for a in node.names if a.name.startswith("easytx.")}
    return found


def test_the_bottom_layer_loads_without_tensorflow_keras_or_transformers():
    code = (
        "import sys, importlib\n"
        f"for name in {BOTTOM!r}: importlib.import_module('easytx.' + name)\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]", f"the bottom layer loaded {out.stdout.strip()}"


@pytest.mark.parametrize("module", BOTTOM)
def test_the_bottom_layer_imports_nothing_above_it(module):
    modules = _modules()
    name = module.replace(".", "/") + ".py"
    allowed = {"_env", *BOTTOM, "encoders", ""}
    above = {m for m in _easytx_imports(name, modules[name]) if m not in allowed}
    assert not above, f"easytx/{name} imports {sorted(above)}, which sit above it"


def test_model_classes_are_named_in_the_backend_only():
    offenders = []
    for name, tree in _modules().items():
        if name in MODEL_CLASS_MODULES:
            continue
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("transformers"):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if node.value.id == "transformers":
                    names = [node.attr]
            offenders += [f"{name}: {n}" for n in names if n.startswith("TF")]
    assert not offenders, offenders


def test_no_state_is_hung_on_model_objects():
    offenders = []
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_easytx_"):
                offenders.append(f"{name}:{node.lineno} .{node.attr}")
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value.startswith("_easytx_")
            ):
                offenders.append(f"{name}:{node.lineno} {node.value!r}")
    assert not offenders, offenders


def _import_graph() -> dict[str, set[str]]:
    """easytx module -> the easytx modules it imports anywhere (lazy imports in functions included)."""
    modules = _modules()
    names = {n.replace("/", ".").removesuffix(".py").removesuffix(".__init__") for n in modules}
    graph = {}
    for path, tree in modules.items():
        name = path.replace("/", ".").removesuffix(".py").removesuffix(".__init__")
        targets = set()
        for target in _easytx_imports(path, tree):
            while target not in names and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in names and target != name and not name.startswith(target + "."):
                targets.add(target)
        graph[name] = targets
    return graph


# the one import cycle left: EncoderModel.save_pretrained (Hugging Face's method name) calls the
# weights module, which builds EncoderModels; both sit in the encoders subpackage
KNOWN_CYCLES = [{"encoders.model", "encoders.weights"}]


def test_no_import_cycles_between_modules():
    graph = _import_graph()
    reach = {module: _reach(graph, module) for module in graph}
    cycles = []
    for start in graph:
        if start in reach[start]:  # the modules reachable from `start` that reach back to it
            back = {m for m in reach[start] if start in reach[m]} | {start}
            if back not in cycles:
                cycles.append(back)
    unexpected = [sorted(c) for c in cycles if c not in KNOWN_CYCLES]
    assert not unexpected, f"import cycles (lazy imports included): {unexpected}"


def _reach(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, stack = set(), list(graph[start])
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack += graph[node]
    return seen


def test_preprocessors_are_found_by_kind_and_an_unknown_kind_is_named():
    from easytx.errors import ArtifactError
    from easytx.preprocess import Transformer, preprocessor_class
    from easytx.tagger import TaggingTransformer

    assert preprocessor_class("transformer") is Transformer
    assert preprocessor_class("tagging") is TaggingTransformer
    with pytest.raises(ArtifactError, match=r"'summariser'.*known: tagging, transformer"):
        preprocessor_class("summariser")
