"""The two CTC beam searches of LM decoding, chosen by ``--lm_backend`` (lm_decode.add_beam_search_arguments) for
scripts/decode.py and the transcribe tool alike:

- ``pyctcdecode``: pyctcdecode's beam search with the LM queried through KenLM
  (pyctcdecode_search.py); the LM may be an ARPA file (plain or gzip) or a KenLM binary, in any letter case
  (lm/kenlm_model.py).
- ``in_house``: this project's CTC prefix beam search (ctc_beam_search.py) over an ARPA file read into Python
  dictionaries (lm/arpa_model.py, lm/alphabet.py).

The default, DEFAULT_LM_BACKEND, is pyctcdecode: on the mini corpus (bench/lm_backends.py) its WER is the
in-house search's or lower (dev-clean 11.94 % against 12.01 %, dev-other 26.26 % against 27.05 %), it decodes
dev-clean 2.2 times as fast (dev-other at 0.83 times the speed), loads the LM faster and in a third of the
memory, and reads KenLM binaries too.

Both fuse the LM as ``ln P_ctc + alpha ln P_lm + beta * words`` with the unknown-word offset charged as the
spelling leaves the vocabulary, so --alpha, --beta and --unknown_word_offset mean the same in both; the
pyctcdecode_search docstring lists how the pruning flags map. A search is a function
``search(log_probs, alpha, beta) -> [(text, score), ...]`` (best first) of one utterance's ``[T, V+1]``
natural-log probabilities.
"""
from . import ctc_beam_search as in_house
from .lm.alphabet import load_language_model

LM_BACKENDS = ("pyctcdecode", "in_house")
DEFAULT_LM_BACKEND = "pyctcdecode"


def _check_backend(backend):
  if backend not in LM_BACKENDS:
    raise ValueError("--lm_backend must be one of {}, got {!r}".format(", ".join(LM_BACKENDS), backend))


def load_lm(backend, path, labels):
  """``(language model, notes)`` of the LM file ``path`` for ``backend``'s search over the characters ``labels``:
  read and checked once, before any decoding. Raises ValueError naming the file (OSError when it is missing)."""
  _check_backend(backend)
  if backend == "in_house":
    return load_language_model(path, labels)
  from .lm.kenlm_model import load_kenlm_model
  return load_kenlm_model(path, labels)


class BeamSearch:
  """What both backends' searches are given: the characters, the LM and decode.py's beam-search flags."""

  def __init__(self, labels, language_model=None, beam_width=128, cutoff_prob=1.0, cutoff_top_n=40,
               unknown_word_offset=-10.0):
    """``labels``: the V characters (blank is column V); ``language_model``: what ``load_lm`` returned for the
    backend, or None (plain beam search); the rest as decode.py's flags."""
    self.labels = labels
    self.language_model = language_model
    self.beam_width = beam_width
    self.cutoff_prob = cutoff_prob
    self.cutoff_top_n = cutoff_top_n
    self.unknown_word_offset = unknown_word_offset


class InHouseSearch(BeamSearch):
  """The search of the ``in_house`` backend: ctc_beam_search.ctc_beam_search with one WordScorer per
  (alpha, beta), built on first use."""

  def __init__(self, labels, language_model=None, **flags):
    """``language_model``: an ``ArpaLanguageModel`` or None; ``flags`` as BeamSearch's."""
    super().__init__(labels, language_model, **flags)
    self._scorers = {}

  def __call__(self, log_probs, alpha=0.0, beta=0.0):
    """Beams of one utterance, best first (ctc_beam_search.ctc_beam_search)."""
    scorer = None
    if self.language_model is not None:
      scorer = self._scorers.get((alpha, beta))
      if scorer is None:
        scorer = self._scorers[(alpha, beta)] = in_house.WordScorer(self.language_model, alpha, beta,
                                                                    self.unknown_word_offset)
    return in_house.ctc_beam_search(log_probs, self.labels, beam_width=self.beam_width, scorer=scorer,
                                    cutoff_prob=self.cutoff_prob, cutoff_top_n=self.cutoff_top_n)


def make_beam_search(backend, labels, language_model=None, beam_width=128, cutoff_prob=1.0, cutoff_top_n=40,
                     unknown_word_offset=-10.0):
  """The search (module docstring) of ``backend`` for the characters ``labels`` with ``language_model`` (what
  ``load_lm`` returned for the same backend, or None for plain beam search); the rest as decode.py's flags."""
  _check_backend(backend)
  if backend == "in_house":
    search_class = InHouseSearch
  else:
    from .pyctcdecode_search import PyctcdecodeSearch as search_class
  return search_class(labels, language_model, beam_width=beam_width, cutoff_prob=cutoff_prob,
                      cutoff_top_n=cutoff_top_n, unknown_word_offset=unknown_word_offset)
