"""CTC alignments: which class each logit frame spells, and the words' times and confidences read from them.

An alignment (a *path*) is one class per valid logit frame, ``[T']`` ints, the blank being the last class V. The
greedy path (the arg max of every frame, ``greedy_path``) is what greedy decoding spells; for a transcript that
another decoder chose (LM beam search), ``forced_path`` finds the most likely path that spells exactly it
(Viterbi). A path spells its characters as runs of one non-blank class (two runs of the same class must be
separated by a blank); a word is the characters between two spaces.

Times: logit frame t covers the time from ``t * frame_seconds``, where ``frame_seconds`` is the feature hop
(``window_stride``, 10 ms) times the encoder's total stride (encoders/tdnn_encoder.py ``time_stride``; 2 for
Jasper, 20 ms). A word starts at the first frame of its first character and ends after the last frame of its last
character: ``start = first * frame_seconds``, ``end = (last + 1) * frame_seconds``. CTC emits a character on one
or two frames, usually late, so these are the frames where the model fires, not phonetic boundaries; the blanks
around a word belong to no word.

Confidence of a word: the mean, over the frames from its first character's first frame to its last character's last
frame (blanks between its characters included), of the softmax probability of the class the path takes at that
frame. On the greedy path that class is the most likely one, so it is the mean of the frames' maximum softmax
probability; in [0, 1], 1 when the model is certain at every frame of the word.
"""
import numpy as np

NEG_INF = -np.inf


def greedy_path(logits):
  """The arg-max class of every frame of ``[T', V+1]`` logits (the first of equal maxima, as greedy_ctc_ids)."""
  return np.argmax(np.asarray(logits), axis=1)


def forced_path(log_probs, ids):
  """The most likely path through ``[T', V+1]`` log-probabilities (ctc_beam_search.log_softmax) that spells
  ``ids`` (character ids < V, in order), as ``[T']`` ints; the blank is the last class. Raises ValueError when no
  path of T' frames spells them (more characters plus repeated neighbours than frames)."""
  log_probs = np.asarray(log_probs, dtype=np.float64)
  frames, classes = log_probs.shape
  blank = classes - 1
  states = np.full(2 * len(ids) + 1, blank, dtype=np.int64)
  states[1::2] = ids
  # A state may be reached from two states back when it is a character other than the one before the blank.
  skip = np.zeros(len(states), dtype=bool)
  skip[3::2] = states[3::2] != states[1:-2:2]
  score = np.full(len(states), NEG_INF)
  score[:2] = log_probs[0, states[:2]]
  back = np.zeros((frames, len(states)), dtype=np.int8)
  for t in range(1, frames):
    choices = np.full((3, len(states)), NEG_INF)  # from the same state, the one before, two before
    choices[0] = score
    choices[1, 1:] = score[:-1]
    choices[2, 2:] = np.where(skip[2:], score[:-2], NEG_INF)
    back[t] = np.argmax(choices, axis=0)
    score = choices[back[t], np.arange(len(states))] + log_probs[t, states]
  last = len(states) - 1
  end = last if len(states) == 1 or score[last] >= score[last - 1] else last - 1
  if score[end] == NEG_INF:
    raise ValueError("no CTC path of {} frames spells these {} characters".format(frames, len(ids)))
  path = np.empty(frames, dtype=np.int64)
  state = end
  for t in range(frames - 1, -1, -1):
    path[t] = states[state]
    state -= back[t, state]
  return path


def character_spans(path, blank):
  """``[(class, first frame, last frame)]`` of the characters ``path`` spells: its runs of one non-blank class."""
  spans = []
  for t, label in enumerate(int(c) for c in path):
    if label == blank:
      continue
    if spans and spans[-1][0] == label and spans[-1][2] == t - 1:
      spans[-1][2] = t
    else:
      spans.append([label, t, t])
  return [tuple(span) for span in spans]


def word_spans(path, labels, space=" "):
  """``[(word, first frame, last frame)]`` of the words ``path`` spells with the characters ``labels`` (the V
  characters by id; the blank is id V): the characters between spaces, empty words (repeated, leading or
  trailing spaces) left out."""
  words, current = [], []
  for label, first, last in character_spans(path, len(labels)) + [(None, None, None)]:
    if label is None or labels[label] == space:
      if current:
        words.append(("".join(labels[c] for c, _, _ in current), current[0][1], current[-1][2]))
      current = []
    else:
      current.append((label, first, last))
  return words


def softmax(logits):
  """Row-wise softmax of ``[T', V+1]`` logits, in float64."""
  logits = np.asarray(logits, dtype=np.float64)
  exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
  return exp / exp.sum(axis=-1, keepdims=True)


def word_alignments(logits, path, labels, frame_seconds, space=" "):
  """The words ``path`` spells over ``[T', V+1]`` logits as ``[{"word", "start", "end", "confidence"}]``: times in
  seconds (``frame_seconds`` per logit frame) and confidences as the module docstring defines them."""
  path = np.asarray(path)
  chosen = softmax(logits)[np.arange(len(path)), path]
  return [{"word": word, "start": first * frame_seconds, "end": (last + 1) * frame_seconds,
           "confidence": float(np.mean(chosen[first:last + 1]))}
          for word, first, last in word_spans(path, labels, space)]
