"""The models kgen declares, read from their source without importing them.

``kgen list``, ``kgen train --help`` and the CLI's argument errors must answer before
TensorFlow starts (importing a model imports Keras, which takes seconds). Every model declares
itself with ``@register_model("name", "description")`` above its class, whose ``__init__``
names its arguments; :func:`declared_models` reads those declarations from the files of
``kgen/models`` with :mod:`ast`. The registry that importing the models fills
(:func:`kgen.models.registered_models`) holds the same names, descriptions and arguments; a
test keeps the two equal.
"""

import ast
from dataclasses import dataclass
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent / "models"
#: Constructor arguments that ``kgen train`` sets itself: from the data and from ``--seed``.
SET_BY_TRAIN = ("self", "input_shape", "seed")


@dataclass(frozen=True)
class DeclaredModel:
    """A registered model as its source declares it."""

    name: str
    class_name: str
    description: str
    arguments: tuple  # constructor arguments besides input_shape and seed, in order


def declared_models():
    """``{name: DeclaredModel}`` for every ``@register_model`` in ``kgen/models``, sorted by name."""
    found = {}
    for path in sorted(MODELS_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                declared = _declaration(node)
                if declared is not None:
                    found[declared.name] = declared
    return dict(sorted(found.items()))


def _declaration(node):
    for decorator in node.decorator_list:
        if (
            isinstance(decorator, ast.Call)
            and getattr(decorator.func, "id", None) == "register_model"
            and len(decorator.args) == 2
            and all(isinstance(arg, ast.Constant) for arg in decorator.args)
        ):
            name, description = (arg.value for arg in decorator.args)
            return DeclaredModel(name, node.name, description, _init_arguments(node))
    return None


def _init_arguments(node):
    for item in node.body:
        if isinstance(item, ast.FunctionDef) and item.name == "__init__":
            arguments = [*item.args.posonlyargs, *item.args.args, *item.args.kwonlyargs]
            return tuple(arg.arg for arg in arguments if arg.arg not in SET_BY_TRAIN)
    return ()
