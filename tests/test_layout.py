"""The folder tree's rules (issue 16), read from the import statements of every Python file: the package never
imports the ring around it, and no folder imports from a folder that imports it back.

A package's ``__init__.py`` re-exporting its children (``from open_seq2seq.data import Speech2TextDataLayer``, as
OpenSeq2Seq's configs write it) is a facade, not a dependency, and is left out."""
import ast
import os
import re
from collections import defaultdict

from tests.e2e.e2e_helpers import REPO

OUTER_RING = ("bench", "generate_pb", "online_inference", "scripts", "tests")
OWN_TOP_LEVEL = ("open_seq2seq",) + OUTER_RING


def python_files():
  for folder, folders, names in os.walk(REPO):
    folders[:] = [name for name in folders if not name.startswith(".") and name != "__pycache__"]
    for name in names:
      if name.endswith(".py"):
        yield os.path.relpath(os.path.join(folder, name), REPO)


def _source(path):
  with open(os.path.join(REPO, path), encoding="utf-8") as handle:
    return handle.read()


def _imported_modules(path):
  """Absolute names of the project modules ``path`` imports (relative imports resolved)."""
  tree = ast.parse(_source(path), path)
  package = os.path.dirname(path).replace(os.sep, ".").split(".")
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
      base = package[:len(package) - node.level + 1] if node.level else []
      names = [".".join(base + ([node.module] if node.module else []))]
    else:
      continue
    yield from (name for name in names if name.split(".")[0] in OWN_TOP_LEVEL)


def _folder_of(module):
  """The folder a module name lives in (a package's own folder for a package)."""
  parts = module.split(".")
  return "/".join(parts) if os.path.isdir(os.path.join(REPO, *parts)) else "/".join(parts[:-1])


def _folder_imports():
  """``{folder: {(imported folder, importing file)}}`` over every file but packages' ``__init__.py``."""
  imports = defaultdict(set)
  for path in python_files():
    if os.path.basename(path) == "__init__.py":
      continue
    folder = os.path.dirname(path).replace(os.sep, "/")
    for module in _imported_modules(path):
      if _folder_of(module) != folder:
        imports[folder].add((_folder_of(module), path))
  return imports


def test_the_package_never_imports_the_outer_ring():
  offending = sorted(path for path in python_files() if path.startswith("open_seq2seq" + os.sep)
                     for module in _imported_modules(path) if module.split(".")[0] in OUTER_RING)
  assert not offending, offending


def test_no_folder_imports_a_folder_that_imports_it_back():
  imports = _folder_imports()
  cycles = sorted({(a, b, path_a, path_b) for a, pairs in imports.items() for b, path_a in pairs
                   for back, path_b in imports.get(b, ()) if back == a and a < b})
  assert not cycles, cycles


def test_no_file_edits_the_import_path():
  # The package is installed (pip install -e .): scripts, benchmarks and tests import it like any library.
  edits = sorted(path for path in python_files() if re.search(r"sys\.path\.(insert|append|extend)|sys\.path\s*[+]?=",
                                                               _source(path)))
  assert not edits, edits


def test_every_module_the_readme_layout_names_exists():
  layout = _source("README.md").split("## Layout", 1)[1].split("\n## ", 1)[0]
  missing = []
  for path in re.findall(r"`((?:open_seq2seq/|scripts/|run\.py)[\w/.{},]*)`", layout):
    braces = re.fullmatch(r"(.*)\{(.*)\}(.*)", path)
    for name in [braces.group(1) + n + braces.group(3) for n in braces.group(2).split(",")] if braces else [path]:
      if not os.path.exists(os.path.join(REPO, name)):
        missing.append(name)
  assert not missing, missing
