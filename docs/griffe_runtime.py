"""Griffe extension: document the C extension from the built module.

griffe reads ``gitstore/_core.pyi`` for the compiled module (the stubs
give every parameter its type), but a stub carries no docstrings.  This
extension imports the built ``gitstore._core`` and, for every class,
function, method and property the stub declares, takes the docstring and
the parameter defaults from the runtime object (its ``__doc__`` and the
text signature the C code declares).  So the API page shows what
``help()`` shows, with the stub's annotations added.

It is enabled in mkdocs.yml; see the comment there for why this route.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import griffe

_ROOT = Path(__file__).resolve().parent.parent
_MODULE = "gitstore._core"


def _runtime_module():
    # The checkout's gitstore, not whatever else sys.path would find first.
    sys.path.insert(0, str(_ROOT))
    try:
        return griffe.dynamic_import(_MODULE)
    finally:
        sys.path.remove(str(_ROOT))


def _set_doc(obj: griffe.Object, runtime: object, loader: griffe.GriffeLoader) -> None:
    if isinstance(runtime, type):
        doc = vars(runtime).get("__doc__")      # its own, not a base class's
    else:
        doc = getattr(runtime, "__doc__", None)
    if doc:
        obj.docstring = griffe.Docstring(
            inspect.cleandoc(doc), parent=obj, parser=loader.docstring_parser,
            parser_options=loader.docstring_options)


def _set_defaults(func: griffe.Function, runtime: object) -> None:
    try:
        signature = inspect.signature(runtime)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return
    for name, parameter in signature.parameters.items():
        if name in func.parameters and parameter.default is not inspect.Parameter.empty:
            func.parameters[name].default = repr(parameter.default)


def _fill(obj: griffe.Object, runtime: object, loader: griffe.GriffeLoader) -> None:
    _set_doc(obj, runtime, loader)
    if obj.is_function:
        _set_defaults(obj, runtime)  # type: ignore[arg-type]
    if not obj.is_class:
        return
    _constructor_as_init(obj)  # type: ignore[arg-type]
    for name, member in obj.members.items():
        owner = next((c for c in runtime.__mro__ if name in vars(c)), None)  # type: ignore[attr-defined]
        if member.is_alias or owner is None or not owner.__module__.startswith("gitstore"):
            continue     # only in the stub, or inherited from outside gitstore
        value = vars(owner)[name]
        _fill(member, value if member.is_attribute else getattr(runtime, name), loader)


def _constructor_as_init(cls: griffe.Class) -> None:
    # The C types take their arguments in __new__ (that is what the stub
    # declares, and what stubtest checks); griffe looks for __init__ to give
    # a class its signature and to match the class docstring's Args.
    new = cls.members.get("__new__")
    if new is None or "__init__" in cls.members or new.is_alias:
        return
    parameters = list(new.parameters)  # type: ignore[union-attr]
    self_ = griffe.Parameter("self", kind=griffe.ParameterKind.positional_or_keyword)
    init = griffe.Function("__init__", parameters=griffe.Parameters(self_, *parameters[1:]),
                           returns="None", lineno=new.lineno, endlineno=new.endlineno)
    cls.set_member("__init__", init)


class RuntimeDocstrings(griffe.Extension):
    """Fill the stub objects of gitstore._core from the built module."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs) -> None:
        if pkg.path != "gitstore":
            return
        stubs = pkg.members["_core"]
        runtime = _runtime_module()
        for name, member in stubs.members.items():
            if not member.is_alias and hasattr(runtime, name):
                _fill(member, getattr(runtime, name), loader)  # type: ignore[arg-type]
