"""Character vocabulary files: one token per line, ids in file order, the CTC blank after the last id."""
from open_seq2seq.utils.files import refuse_special_file


def load_vocab(vocab_file, read_chars=True):
  """Returns ``{token: id}``. With ``read_chars`` only the first character of a line is the token
  (so the space line must be literally ``" "``); empty lines are skipped."""
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
