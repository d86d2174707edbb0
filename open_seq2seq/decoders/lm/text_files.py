"""Line-by-line reading of the LM's text resources (sentence files, word lists, ARPA models), plain or
gzip-compressed (recognised by its content, whatever the file is called), with errors that name the file
and line when the content is not UTF-8 text."""
import gzip
import zlib

from open_seq2seq.utils.files import refuse_special_file

GZIP_MAGIC = b"\x1f\x8b"
# KenLM's build_binary writes a memory image that opens with this; the in-house reader takes the ARPA text it was
# built from (the pyctcdecode backend hands binaries to KenLM).
KENLM_BINARY_MAGIC = b"mmap lm "


def _open_text(path, compressed):
  # utf-8-sig: a byte-order mark (Windows editors write one) would otherwise glue itself to the first word.
  if compressed:
    return gzip.open(path, "rt", encoding="utf-8-sig")
  return open(path, encoding="utf-8-sig")


def _refuse_binary_models(path, compressed):
  """Raises ValueError for a KenLM binary model, whose bytes would otherwise surface as a vague UTF-8 error."""
  try:
    with (gzip.open(path, "rb") if compressed else open(path, "rb")) as handle:
      head = handle.read(len(KENLM_BINARY_MAGIC))
  except (EOFError, OSError, zlib.error):
    return  # a damaged gzip stream is reported with its line by the reader
  if head == KENLM_BINARY_MAGIC:
    raise ValueError("{}: a KenLM binary model (build_binary output); expected the ARPA text file it was built "
                     "from (.arpa or .arpa.gz), or --lm_backend pyctcdecode, which reads it".format(path))


def read_text_lines(path):
  """Yields ``(line number, line)`` of a UTF-8 text file, gunzipped when it holds gzip data.

  Raises ValueError naming ``path`` (and the line) for a directory, FIFO or device, a KenLM binary model,
  binary data (NUL bytes), text that is not UTF-8 or a truncated/damaged gzip stream; OSError when the file
  cannot be opened.
  """
  refuse_special_file(path)
  with open(path, "rb") as probe:
    compressed = probe.read(len(GZIP_MAGIC)) == GZIP_MAGIC
  _refuse_binary_models(path, compressed)
  number = 0
  with _open_text(path, compressed) as handle:
    try:
      for number, line in enumerate(handle, start=1):
        if "\0" in line:
          raise ValueError("{}:{}: binary data (NUL bytes), expected text".format(path, number))
        yield number, line
    except UnicodeDecodeError as error:
      raise ValueError("{}:{}: not UTF-8 text ({})".format(path, number + 1, error.reason)) from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
      raise ValueError("{}:{}: damaged or truncated gzip data ({})".format(path, number + 1, error)) from None
