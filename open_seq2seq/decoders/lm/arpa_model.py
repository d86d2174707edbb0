"""A word n-gram language model read from an ARPA file (what KenLM's lmplz and scripts/build_lm.py write),
queried with the standard back-off rule."""
import math

from .text_files import read_text_lines

BEGIN_OF_SENTENCE = "<s>"
END_OF_SENTENCE = "</s>"
UNKNOWN_WORD = "<unk>"
# ARPA's stand-in for log10(0), used for <s> which is never predicted.
LOG10_ZERO = -99.0
# What a model without <unk> gives words outside its vocabulary.
UNKNOWN_LOG10_PROB = -10.0


class ArpaFormatError(ValueError):
  """An ARPA file that does not parse."""
  pass


class ArpaLanguageModel:
  """``log10_prob(word, context)`` of an ARPA back-off model; words outside its vocabulary score as
  ``<unk>`` (a model without ``<unk>`` gives them ``unknown_log10_prob``)."""

  def __init__(self, ngrams, unknown_log10_prob=UNKNOWN_LOG10_PROB):
    """``ngrams[k]`` maps k-word tuples to ``(log10 prob, log10 back-off weight)``, k = 1..order."""
    self._ngrams = ngrams
    self.order = max(ngrams)
    self._unknown = ngrams[1][(UNKNOWN_WORD,)][0] if (UNKNOWN_WORD,) in ngrams[1] else unknown_log10_prob
    self.vocabulary = frozenset(word for (word,) in ngrams[1])

  @classmethod
  def from_file(cls, path):
    """The model read from the ARPA file ``path``."""
    return cls(read_arpa((line for _, line in read_text_lines(path)), path))

  def map_word(self, word):
    """``word`` if it is in the vocabulary, else the unknown-word token."""
    return word if word in self.vocabulary else UNKNOWN_WORD

  def log10_prob(self, word, context=()):
    """log10 P(word | context); ``context`` is the preceding words, oldest first (only the last
    order-1 are used; start a sentence with ``("<s>",)``)."""
    word = self.map_word(word)
    history = tuple(self.map_word(w) if w != BEGIN_OF_SENTENCE else w for w in context)[-(self.order - 1):] \
        if self.order > 1 else ()
    back_off = 0.0
    for start in range(len(history) + 1):
      ngram = history[start:] + (word,)
      entry = self._ngrams.get(len(ngram), {}).get(ngram)
      if entry is not None:
        return back_off + entry[0]
      context_entry = self._ngrams.get(len(ngram) - 1, {}).get(history[start:])
      if context_entry is not None:
        back_off += context_entry[1]
    return back_off + self._unknown


def read_arpa(lines, source="<arpa>"):
  """Parses ARPA text into ``{order: {words tuple: (log10 prob, log10 back-off)}}``.

  ``lines``: the file's lines (line 1 first). Raises ArpaFormatError naming ``source`` and the line for
  anything that is not a complete ARPA model: an empty file, no ``\\data\\`` header, sections out of order,
  repeated or unannounced, counts under ``\\data\\`` that the sections do not match, a line with the wrong
  number of fields for its section or a non-numeric / non-finite / positive log probability, a repeated
  n-gram, a word of a longer n-gram that is no unigram, and a file that stops before ``\\end\\`` (truncated).
  """
  parser = _ArpaParser(source)
  numbered = enumerate(lines, start=1)
  for number, raw in numbered:
    try:
      if parser.feed(number, raw.strip()):
        break
    except ArpaFormatError as error:
      if any(rest.strip() for _, rest in numbered):
        raise
      raise ArpaFormatError("{} (the file's last line: truncated?)".format(error)) from None
  return parser.finish()


class _ArpaParser:
  """State of one pass over an ARPA file: the section being read and what ``\\data\\`` announced."""

  def __init__(self, source):
    self.source = source
    self.section = "preamble"
    self.order = None
    self.announced = {}  # order -> (count, line number of its 'ngram N=COUNT')
    self.ngrams = {}
    self.section_lines = {}  # order -> line number of its \N-grams: header
    self.last_line = 0

  def _error(self, number, message):
    return ArpaFormatError("{}:{}: {}".format(self.source, number, message))

  def feed(self, number, line):
    """Takes one stripped line; True once ``\\end\\`` is reached."""
    if not line:
      return False
    self.last_line = number
    if line == "\\data\\":
      if self.section != "preamble":
        raise self._error(number, "a second \\data\\ header")
      self.section = "data"
    elif line == "\\end\\":
      if self.section == "preamble":
        raise self._error(number, "\\end\\ before the \\data\\ header")
      self.section = "end"
      return True
    elif line.startswith("\\") and line.endswith("-grams:"):
      self._open_section(number, line)
    elif self.section == "data":
      self._announce(number, line)
    elif self.section == "ngrams":
      self._add_ngram(number, line)
    # Text before \data\ is a comment in the ARPA format (some toolkits write a banner there).
    return False

  def _announce(self, number, line):
    if not line.startswith("ngram ") or "=" not in line:
      raise self._error(number, "expected 'ngram N=COUNT' under \\data\\, got {!r}".format(line))
    key, count = line[len("ngram "):].split("=", 1)
    try:
      order, count = int(key), int(count)
    except ValueError:
      raise self._error(number, "expected whole numbers in 'ngram N=COUNT', got {!r}".format(line)) from None
    if order < 1 or count < 0:
      raise self._error(number, "expected an order >= 1 and a count >= 0, got {!r}".format(line))
    if order in self.announced:
      raise self._error(number, "the {}-gram count is announced twice".format(order))
    self.announced[order] = (count, number)

  def _open_section(self, number, line):
    if self.section == "preamble":
      raise self._error(number, "section {} before the \\data\\ header (not an ARPA file?)".format(line))
    try:
      order = int(line[1:-len("-grams:")])
    except ValueError:
      raise self._error(number, "expected a section header like \\2-grams:, got {!r}".format(line)) from None
    if order not in self.announced:
      raise self._error(number, "section {} is not announced under \\data\\".format(line))
    expected = max(self.ngrams) + 1 if self.ngrams else 1
    if order != expected:
      raise self._error(number, "section {} where \\{}-grams: should come (sections go 1, 2, ... once each)".format(
          line, expected))
    self.order = order
    self.ngrams[order] = {}
    self.section_lines[order] = number
    self.section = "ngrams"

  def _add_ngram(self, number, line):
    fields, order = line.split(), self.order
    if len(fields) not in (order + 1, order + 2):
      raise self._error(number, "expected 'log10prob {} words [backoff]' in the {}-grams, got {} fields: {!r}".format(
          order, order, len(fields), line))
    try:
      log_prob = float(fields[0])
      back_off = float(fields[order + 1]) if len(fields) == order + 2 else 0.0
    except ValueError:
      raise self._error(number, "expected numbers for the probability and back-off of a {}-gram, got {!r}".format(
          order, line)) from None
    if not (math.isfinite(log_prob) and math.isfinite(back_off)) or log_prob > 0:
      raise self._error(number, "expected a finite log10 probability <= 0 and a finite back-off, got {!r}".format(
          line))
    words = tuple(fields[1:order + 1])
    table = self.ngrams[order]
    if words in table:
      raise self._error(number, "the {}-gram {!r} is listed twice".format(order, " ".join(words)))
    if order > 1 and any((word,) not in self.ngrams[1] for word in words):
      raise self._error(number, "the {}-gram {!r} holds a word that is no unigram".format(order, " ".join(words)))
    table[words] = (log_prob, back_off)

  def finish(self):
    """The parsed n-grams once the whole file is read; raises ArpaFormatError for what only the end shows."""
    if self.section == "preamble":
      if self.last_line == 0:
        raise ArpaFormatError("{}: empty file, expected an ARPA language model".format(self.source))
      raise ArpaFormatError("{}: no \\data\\ header in {} lines (not an ARPA file?)".format(
          self.source, self.last_line))
    if self.section != "end":
      where = "the \\{}-grams: section".format(self.order) if self.section == "ngrams" else "\\data\\"
      raise self._error(self.last_line, "the file ends inside {} without the \\end\\ marker (truncated?)".format(
          where))
    for order, (count, number) in sorted(self.announced.items()):
      found = len(self.ngrams.get(order, {}))
      if found != count:
        raise self._error(number, "\\data\\ announces {} {}-grams, the file has {}".format(count, order, found))
    if not self.ngrams.get(1):
      raise ArpaFormatError("{}: no unigrams".format(self.source))
    # KenLM refuses such a model too: every sentence is scored from <s>, and without it (or </s>) the file was cut
    # or hand-edited. Upper-case markers (<S>) are folded later like the words.
    markers = {words[0].lower() for words in self.ngrams[1]}
    for marker in (BEGIN_OF_SENTENCE, END_OF_SENTENCE):
      if marker not in markers:
        raise self._error(self.section_lines[1], "the 1-grams have no {} (every ARPA model from lmplz, SRILM or "
                          "scripts/build_lm.py has <s> and </s>)".format(marker))
    return self.ngrams
