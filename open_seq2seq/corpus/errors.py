"""The errors of the corpus package: one for the builder, one for the importer, each a problem that stops it."""


class CorpusError(Exception):
  """A problem that stops the build; the message says what to do."""


class LibrivoxImportError(Exception):
  """A problem with the input corpus of the LibriSpeech importer; the message names the file."""
