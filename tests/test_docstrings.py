"""Every public class, function and method of the package says what it does (issue 16): a docstring, read with
``ast`` so that nothing is imported."""
import ast
import os

from tests.e2e.e2e_helpers import REPO
from tests.test_layout import python_files


def test_every_public_definition_of_the_package_has_a_docstring():
  undocumented = []
  for path in python_files():
    if not path.startswith("open_seq2seq" + os.sep):
      continue
    with open(os.path.join(REPO, path), encoding="utf-8") as handle:
      tree = ast.parse(handle.read(), path)
    undocumented += ["{}:{} {}".format(path, node.lineno, node.name) for node in ast.walk(tree)
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and not node.name.startswith("_") and not ast.get_docstring(node)]
  assert not undocumented, "\n".join(undocumented)
