"""The error every part of the corpus builder raises for a problem that stops the build."""


class CorpusError(Exception):
  """A problem that stops the build; the message says what to do."""
