"""Character vocabulary files: one token per line, ids in file order, the CTC blank after the last id.

Every reader of a vocabulary file goes through this module: the data layers (``vocab_params``), LM decoding
(``load_labels``) and the export tools, so that a token's id and the blank's id mean the same everywhere.
"""
from open_seq2seq.utils.files import refuse_special_file


def load_vocab(vocab_file, read_chars=True):
  """Returns ``{token: id}``, ids 0, 1, ... in file order. With ``read_chars`` only the first character of a
  line is the token (so the space line must be literally ``" "``); empty lines are skipped.

  Raises ValueError naming the file for a file that is not UTF-8 text, a directory, FIFO or device, a token
  listed twice (with its line) and a file without tokens.
  """
  try:
    refuse_special_file(vocab_file)
    with open(vocab_file, encoding="utf-8") as handle:
      lines = handle.readlines()
  except (OSError, UnicodeDecodeError) as error:
    raise ValueError("Cannot read vocab_file {} as UTF-8 text: {}".format(vocab_file, error)) from error
  vocab = {}
  for line_number, line in enumerate(lines, start=1):
    if line in ("", "\n"):
      continue
    token = line[0] if read_chars else line.rstrip("\n")
    if token in vocab:
      raise ValueError("vocab_file {} line {}: duplicate token {!r}".format(vocab_file, line_number, token))
    vocab[token] = len(vocab)
  if not vocab:
    raise ValueError("vocab_file {} holds no tokens".format(vocab_file))
  return vocab


def load_labels(vocab_file):
  """The V characters of ``vocab_file`` as a list indexed by id; the CTC blank is id V (``len(labels)``).
  Errors as ``load_vocab``."""
  vocab = load_vocab(vocab_file)
  return sorted(vocab, key=vocab.get)


def vocab_params(vocab_file):
  """The data-layer params a vocabulary defines: ``char2idx`` ``{char: id}``, ``idx2char`` ``{id: char}`` and
  ``tgt_vocab_size`` (V + 1: the V characters and the CTC blank, the decoder's number of classes). Errors as
  ``load_vocab``."""
  char2idx = load_vocab(vocab_file)
  return {"char2idx": char2idx, "idx2char": {i: c for c, i in char2idx.items()}, "tgt_vocab_size": len(char2idx) + 1}
