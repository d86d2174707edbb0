"""The decoder the transcribe tool turns logits into text with, chosen in one place (``make_decoder``).

- ``greedy``: greedy CTC (decoders/greedy_ctc.py), what run.py --mode=infer writes.
- ``beam``: CTC beam search by the ``--lm_backend`` of scripts/decode.py (decoders/lm_backends.py: pyctcdecode
  with KenLM or the in-house prefix search), with a word n-gram LM (``--lm``, read as decode.py reads
  it) fused as ``ln P_ctc + alpha ln P_lm + beta * words``; without an LM, plain beam search.

A decoder is a function ``decode(logits, align=False) -> (transcript, path)`` of one utterance's valid logits
``[T', V+1]``; with ``align`` it also returns the CTC alignment of the transcript (decoders/ctc_alignment.py: the
greedy path, or the forced alignment of the beam's transcript), from which word times and confidences are read,
else None.
"""
import sys

from open_seq2seq.decoders.ctc_alignment import forced_path, greedy_path
from open_seq2seq.decoders.ctc_beam_search import log_softmax
from open_seq2seq.decoders.greedy_ctc import greedy_ctc_ids, ids_to_text
from open_seq2seq.decoders.lm_backends import DEFAULT_LM_BACKEND, load_lm, make_beam_search

DECODERS = ("greedy", "beam")


def make_decoder(name, labels, lm=None, alpha=1.0, beta=1.0, beam_width=128, cutoff_prob=0.9999, cutoff_top_n=40,
                 unknown_word_offset=-10.0, lm_backend=DEFAULT_LM_BACKEND):
  """The ``decode`` function (module docstring) of decoder ``name`` (one of DECODERS) for the vocabulary
  ``labels`` (the V characters by id). ``lm``: an LM file for ``beam`` (read and checked here, before any
  audio; its warnings go to stderr); the other arguments are scripts/decode.py's flags of the same names.
  Raises ValueError for an unknown name or backend, an LM with the greedy decoder or an LM file that does not
  read."""
  if name not in DECODERS:
    raise ValueError("--decoder must be one of {}, got {!r}".format(", ".join(DECODERS), name))
  if name == "greedy":
    if lm is not None:
      raise ValueError("--lm needs --decoder beam (greedy decoding uses no language model)")

    def decode_greedy(logits, align=False):
      """Greedy transcript of ``logits`` and, with ``align``, its greedy path."""
      return ids_to_text(greedy_ctc_ids(logits), labels), greedy_path(logits) if align else None

    return decode_greedy
  language_model = None
  if lm is not None:
    language_model, notes = load_lm(lm_backend, lm, labels)
    for note in notes:
      sys.stderr.write("Warning: {}\n".format(note))
  search = make_beam_search(lm_backend, labels, language_model, beam_width=beam_width, cutoff_prob=cutoff_prob,
                            cutoff_top_n=cutoff_top_n, unknown_word_offset=unknown_word_offset)
  char2idx = {char: index for index, char in enumerate(labels)}

  def decode_beam(logits, align=False):
    """Best beam of ``logits`` and, with ``align``, the most likely path that spells it."""
    log_probs = log_softmax(logits)
    beams = search(log_probs, alpha, beta)
    text = beams[0][0] if beams else ""
    return text, forced_path(log_probs, [char2idx[char] for char in text]) if align else None

  return decode_beam
