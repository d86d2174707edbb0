"""Line-by-line reading of the LM's text resources (sentence files, word lists, ARPA models), plain or
gzip-compressed, with an error that names the file when the text is not UTF-8."""
import gzip


def read_text_lines(path):
  """Yields ``(line number, line)`` of a UTF-8 text file, gunzipped when ``path`` ends in ``.gz``."""
  opener = gzip.open if path.endswith(".gz") else open
  number = 0
  with opener(path, "rt", encoding="utf-8") as handle:
    try:
      for number, line in enumerate(handle, start=1):
        yield number, line
    except UnicodeDecodeError as error:
      raise ValueError("{}:{}: not UTF-8 text ({})".format(path, number + 1, error.reason)) from None
