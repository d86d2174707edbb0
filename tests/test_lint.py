"""The linter configured in pyproject.toml (ruff) finds nothing, and every comment that silences it says why on
the same line; no comment addresses a linter the project does not run."""
import io
import os
import re
import subprocess
import sys
import tokenize

from tests.e2e.e2e_helpers import REPO
from tests.test_layout import python_files

NOQA = re.compile(r"#\s*noqa\b(?P<codes>:\s*[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)?(?P<reason>.*)$", re.IGNORECASE)


def _comments(path):
  with open(os.path.join(REPO, path), encoding="utf-8") as handle:
    for token in tokenize.generate_tokens(io.StringIO(handle.read()).readline):
      if token.type == tokenize.COMMENT:
        yield token.start[0], token.string


def test_ruff_finds_nothing():
  result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", REPO],
                          cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]


def test_every_noqa_names_its_codes_and_a_reason():
  bare = []
  for path in python_files():
    for line, comment in _comments(path):
      match = NOQA.search(comment)
      if match and (not match.group("codes") or len(match.group("reason").strip(" ()-:;,.")) < 8):
        bare.append("{}:{}: {}".format(path, line, comment))
  assert not bare, "\n".join(bare)


def test_no_comment_addresses_an_unused_linter():
  stale = ["{}:{}: {}".format(path, line, comment) for path in python_files()
           for line, comment in _comments(path) if re.search(r"pylint\s*:|type:\s*ignore|flake8", comment)]
  assert not stale, "\n".join(stale)
