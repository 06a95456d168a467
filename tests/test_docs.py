"""The API page renders every documented object from the built module.

docs/api.md documents names with ``::: gitstore.X`` directives (and, for
classes, the members listed in the directive's options).  The page is built
with ``mkdocs build --strict`` and, for every such name, the first line of the
object's runtime docstring must appear in that object's entry: an entry with
an empty body (what griffe produced from docstring-less stubs) fails.
"""

from __future__ import annotations

import enum
import html
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import gitstore

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None,
                       reason="mkdocs is not installed (docs/requirements.txt)"),
    # The ASan pass (make asan) looks for memory errors in the extension;
    # building the docs under it checks nothing more and only trips LSan on
    # the tools' own allocations.
    pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                       reason="not under the sanitizer build"),
]

# Documented on the page, not implemented yet: they render as absent
# (members simply missing) or as placeholders that say so.
def documented_names() -> list[str]:
    """Every `::: gitstore.X` of docs/api.md, plus X.member for listed members."""
    names: list[str] = []
    lines = (ROOT / "docs" / "api.md").read_text().splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"^::: gitstore\.(\S+)\s*$", line)
        if not match:
            continue
        target = match.group(1)
        if target not in names:
            names.append(target)
        in_members = False
        for option in lines[i + 1:]:
            if not option.startswith("    ") or not option.strip():
                break
            if re.match(r"^\s+members:\s*$", option):
                in_members = True
            elif in_members and (m := re.match(r"^\s+- (\w+)\s*$", option)):
                names.append(f"{target}.{m.group(1)}")
            else:
                in_members = False
    return names


def runtime_object(name: str):
    """The object ``gitstore.<name>`` names (a property's descriptor for a
    property), or None when it does not exist."""
    obj = gitstore
    parts = name.split(".")
    for index, part in enumerate(parts):
        if index == len(parts) - 1 and isinstance(obj, type):
            for klass in obj.__mro__:
                if part in vars(klass):
                    return vars(klass)[part]
            return None
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def page_text(fragment: str) -> str:
    """Rendered HTML as a reader sees it: tags dropped, whitespace collapsed."""
    text = re.sub(r"<[^>]+>", " ", fragment)
    return " ".join(html.unescape(text).split())


def docstring_text(line: str) -> str:
    """A docstring line as Markdown renders it: no code or emphasis marks."""
    line = re.sub(r"`+([^`]*)`+", r"\1", line)
    line = re.sub(r"(?<![\w*])\*([^*]+)\*(?![\w*])", r"\1", line)
    return " ".join(line.split())


def entry(page: str, name: str) -> str:
    """The part of the page from the heading of gitstore.<name> to the next
    object heading (for a class: its own docstring and signature)."""
    start = page.find(f'id="gitstore.{name}"')
    assert start >= 0, f"gitstore.{name} has no entry (heading) on the page"
    end = page.find('id="gitstore.', start + 1)
    return page[start:end if end >= 0 else len(page)]


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    site = tmp_path_factory.mktemp("site")
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_MKDOCS_2_WARNING="1")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return (site / "api" / "index.html").read_text()


def test_directives_are_found():
    names = documented_names()
    for expected in ("GitStore", "GitStore.open", "FS", "FS.read", "Batch.commit",
                     "RefDict.reflog", "ExcludeFilter", "disk_glob", "StaleSnapshotError",
                     "FileType", "retry_write"):
        assert expected in names


def test_every_documented_name_exists():
    missing = {name for name in documented_names() if runtime_object(name) is None}
    assert missing == set()


@pytest.mark.parametrize("name", documented_names())
def test_entry_shows_the_runtime_docstring(page, name):
    obj = runtime_object(name)
    doc = inspect.getdoc(obj)
    assert doc, f"gitstore.{name} has no docstring"
    first = docstring_text(doc.splitlines()[0])
    # Markup splits the text at odd places: compare without any whitespace.
    assert "".join(first.split()) in "".join(page_text(entry(page, name)).split()), (
        f"the entry of gitstore.{name} lacks its docstring's first line {first!r}")


def _signature(name):
    """The runtime signature of a documented callable; None for those that
    have none to show (exceptions built into Python take *args)."""
    obj = runtime_object(name)
    if isinstance(obj, classmethod):
        obj = obj.__func__
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        return None


@pytest.mark.parametrize("name", [n for n in documented_names()
                                  if callable(runtime_object(n))
                                  and not isinstance(runtime_object(n), enum.EnumMeta)
                                  and _signature(n) is not None])
def test_signature_shows_the_runtime_defaults(page, name):
    signature = _signature(name)
    text = page_text(entry(page, name))
    for parameter in signature.parameters.values():
        if parameter.default is inspect.Parameter.empty:
            continue
        default = repr(parameter.default).replace("'", '"')
        if default.startswith("<"):
            continue    # a dataclass field's default_factory
        pattern = rf"\b{parameter.name}\s*(:[^=]*?)?=\s*{re.escape(default)}"
        assert re.search(pattern, text.replace("'", '"')), (
            f"gitstore.{name}: parameter {parameter.name} = {default} not shown")


def test_no_sphinx_roles_private_or_dunder_members(page):
    text = page_text(page)
    assert not re.search(r":(class|meth|func|attr|exc|mod|data|obj):", text)
    ids = re.findall(r'id="(gitstore\.[^"]+)"', page)
    assert not [i for i in ids if re.search(r"\._", i)], "private or dunder members listed"


def test_classes_have_headings(page):
    for name in documented_names():
        if "." not in name and isinstance(runtime_object(name), type):
            assert re.search(rf'<h\d id="gitstore\.{name}"', page), f"{name} has no heading"
