"""A word n-gram language model read from an ARPA file (what KenLM's lmplz and scripts/build_lm.py write),
queried with the standard back-off rule."""
from .text_files import read_text_lines

BEGIN_OF_SENTENCE = "<s>"
END_OF_SENTENCE = "</s>"
UNKNOWN_WORD = "<unk>"
# ARPA's stand-in for log10(0), used for <s> which is never predicted.
LOG10_ZERO = -99.0


class ArpaFormatError(ValueError):
  pass


class ArpaLanguageModel:
  """``log10_prob(word, context)`` of an ARPA back-off model; words outside its vocabulary score as
  ``<unk>`` (a model without ``<unk>`` gives them ``unknown_log10_prob``)."""

  def __init__(self, ngrams, unknown_log10_prob=-10.0):
    """``ngrams[k]`` maps k-word tuples to ``(log10 prob, log10 back-off weight)``, k = 1..order."""
    self._ngrams = ngrams
    self.order = max(ngrams)
    self._unknown = ngrams[1][(UNKNOWN_WORD,)][0] if (UNKNOWN_WORD,) in ngrams[1] else unknown_log10_prob
    self.vocabulary = frozenset(word for (word,) in ngrams[1])

  @classmethod
  def from_file(cls, path):
    return cls(read_arpa((line for _, line in read_text_lines(path)), path))

  def map_word(self, word):
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
  """Parses ARPA text into ``{order: {words tuple: (log10 prob, log10 back-off)}}``; raises ArpaFormatError
  naming ``source`` and the line on malformed input."""
  expected, ngrams, order = {}, {}, None
  section = "preamble"
  for number, raw in enumerate(lines, start=1):
    line = raw.strip()
    if not line:
      continue
    where = "{}:{}".format(source, number)
    if line == "\\data\\":
      section = "data"
    elif line == "\\end\\":
      section = "end"
      break
    elif line.startswith("\\") and line.endswith("-grams:"):
      try:
        order = int(line[1:-len("-grams:")])
      except ValueError:
        raise ArpaFormatError("{}: expected a section header like \\2-grams:, got {!r}".format(where, line)) from None
      if order not in expected:
        raise ArpaFormatError("{}: section {} is not announced under \\data\\".format(where, line))
      ngrams[order] = {}
      section = "ngrams"
    elif section == "data":
      if not line.startswith("ngram ") or "=" not in line:
        raise ArpaFormatError("{}: expected 'ngram N=COUNT' under \\data\\, got {!r}".format(where, line))
      key, count = line[len("ngram "):].split("=", 1)
      try:
        expected[int(key)] = int(count)
      except ValueError:
        raise ArpaFormatError("{}: expected whole numbers in 'ngram N=COUNT', got {!r}".format(where, line)) from None
    elif section == "ngrams":
      fields = line.split()
      if len(fields) not in (order + 1, order + 2):
        raise ArpaFormatError("{}: expected 'log10prob {} words [backoff]' in the {}-grams, got {!r}".format(
            where, order, order, line))
      try:
        log_prob = float(fields[0])
        back_off = float(fields[order + 1]) if len(fields) == order + 2 else 0.0
      except ValueError:
        raise ArpaFormatError("{}: expected numbers for the probability and back-off, got {!r}".format(
            where, line)) from None
      ngrams[order][tuple(fields[1:order + 1])] = (log_prob, back_off)
  if section != "end":
    raise ArpaFormatError("{}: no \\end\\ marker (truncated file?)".format(source))
  for k, count in expected.items():
    if len(ngrams.get(k, {})) != count:
      raise ArpaFormatError("{}: \\data\\ announces {} {}-grams, the file has {}".format(
          source, count, k, len(ngrams.get(k, {}))))
  if 1 not in ngrams:
    raise ArpaFormatError("{}: no unigrams".format(source))
  return ngrams
