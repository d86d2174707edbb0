"""Property-based tests (hypothesis) of the manifest and vocabulary parsers: any input either parses into a
consistent result or raises the parser's own ValueError naming the file; valid inputs round-trip."""
import csv
import io
import os
import tempfile

from hypothesis import given, settings, strategies as st

from open_seq2seq.data.speech2text.manifest import read_manifests
from open_seq2seq.data.vocab import load_vocab

SETTINGS = settings(max_examples=150, deadline=None)
# A manifest field never holds a line break: the reader refuses one as an unclosed quote (test_manifest_reliability).
FIELD = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\n\r"), max_size=20)


def write(text, suffix):
  handle, path = tempfile.mkstemp(suffix=suffix)
  with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
    out.write(text)
  return path


@SETTINGS
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=300))
def test_arbitrary_manifest_text_parses_or_names_the_file(text):
  path = write(text, ".csv")
  try:
    bad_rows = []
    rows = read_manifests([path], bad_rows=bad_rows)
  except ValueError as error:
    assert path in str(error)
  else:
    assert all(row.csv_file == path and row.row_number >= 2 for row in rows)
    assert all(path in problem for problem in bad_rows)
  finally:
    os.remove(path)


@SETTINGS
@given(st.lists(st.tuples(FIELD.filter(lambda s: s.strip() != ""), st.integers(0, 10 ** 9), FIELD), max_size=8))
def test_valid_manifests_round_trip(entries):
  buffer = io.StringIO()
  writer = csv.writer(buffer)
  writer.writerow(["wav_filename", "wav_filesize", "transcript"])
  writer.writerows(entries)
  path = write(buffer.getvalue(), ".csv")
  try:
    rows = read_manifests([path], dataset_root="/corpus")
  finally:
    os.remove(path)
  assert [(row.wav_filename, row.transcript) for row in rows] == [(name, text) for name, _, text in entries]
  assert [row.path for row in rows] == [os.path.join("/corpus", name) for name, _, _ in entries]


@SETTINGS
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=200))
def test_arbitrary_vocabulary_text_loads_consistently_or_names_the_file(text):
  path = write(text, ".txt")
  try:
    vocab = load_vocab(path)
  except ValueError as error:
    assert path in str(error)
  else:
    assert sorted(vocab.values()) == list(range(len(vocab)))
    assert all(len(token) == 1 for token in vocab)
  finally:
    os.remove(path)


@SETTINGS
@given(st.lists(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\n\r\x0b\x0c\x1c\x1d\x1e"
                              "\x85\u2028\u2029"), min_size=1, max_size=40, unique=True))
def test_valid_vocabularies_round_trip(tokens):
  path = write("".join(token + "\n" for token in tokens), ".txt")
  try:
    assert load_vocab(path) == {token: index for index, token in enumerate(tokens)}
  finally:
    os.remove(path)


@SETTINGS
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_escape_as_anything_but_a_named_error(data):
  handle, path = tempfile.mkstemp()
  with os.fdopen(handle, "wb") as out:
    out.write(data)
  try:
    for parse in (lambda: read_manifests([path], bad_rows=[]), lambda: load_vocab(path)):
      try:
        parse()
      except ValueError as error:
        assert path in str(error)
  finally:
    os.remove(path)
