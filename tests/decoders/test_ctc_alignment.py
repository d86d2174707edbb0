"""Word times and confidences from CTC alignments (decoders/ctc_alignment.py), checked against a hand-built
alignment whose greedy path, stride and frame probabilities are known, so the expected seconds and confidences
are computed by hand; and the forced alignment of a given transcript (the beam decoder's words)."""
import math

import numpy as np
import pytest

from open_seq2seq.decoders.ctc_alignment import (character_spans, forced_path, greedy_path, word_alignments,
                                                 word_spans)
from open_seq2seq.decoders.ctc_beam_search import log_softmax
from open_seq2seq.decoders.greedy_ctc import greedy_transcript
from open_seq2seq.encoders.tdnn_encoder import time_stride
from open_seq2seq.encoders.jasper_layers import conv_layer
from open_seq2seq.inference.transcribe import frame_seconds
from open_seq2seq.utils.config import load_config_module
from tests.e2e.e2e_helpers import CONFIG

LABELS = list(" abcdefghijklmnopqrstuvwxyz'")  # the toy vocabulary: 28 characters, blank is id 28
BLANK = len(LABELS)
# Frame by frame (one logit frame = 2 feature hops of 10 ms = 20 ms): "hi" on frames 1-4, "too" on 9-13 (the two
# o's kept apart by the blank of frame 12), a trailing space, blanks around.
PATH = ["_", "h", "h", "_", "i", "_", " ", "_", "_", "t", "o", "o", "_", "o", "_", " ", "_"]
# The logit of each frame's class (every other class has logit 0): its softmax probability is e^L / (e^L + 28).
PEAKS = [3.0, 2.0, 4.0, 5.0, 1.0, 6.0, 2.5, 3.0, 3.0, 0.5, 2.0, 3.5, 4.0, 1.5, 5.0, 2.0, 4.0]


def hand_built_logits():
  ids = [BLANK if char == "_" else LABELS.index(char) for char in PATH]
  logits = np.zeros((len(PATH), BLANK + 1), np.float32)
  logits[np.arange(len(PATH)), ids] = PEAKS
  return logits, ids


def probability(peak):
  return math.exp(peak) / (math.exp(peak) + BLANK)


def test_the_greedy_path_of_the_hand_built_logits_is_the_built_one():
  logits, ids = hand_built_logits()
  assert list(greedy_path(logits)) == ids
  assert greedy_transcript(logits, LABELS) == "hi too "
  assert character_spans(ids, BLANK) == [(LABELS.index("h"), 1, 2), (LABELS.index("i"), 4, 4), (0, 6, 6),
                                         (LABELS.index("t"), 9, 9), (LABELS.index("o"), 10, 11),
                                         (LABELS.index("o"), 13, 13), (0, 15, 15)]
  assert word_spans(ids, LABELS) == [("hi", 1, 4), ("too", 9, 13)]


def test_word_times_and_confidences_against_the_hand_computed_ones():
  logits, ids = hand_built_logits()
  seconds = 0.010 * 2  # the feature hop times Jasper's stride
  words = word_alignments(logits, ids, LABELS, seconds)
  assert [word["word"] for word in words] == ["hi", "too"]
  # "hi": from frame 1 (0.02 s) to the end of frame 4 (0.10 s); "too": frame 9 (0.18 s) to the end of 13 (0.28 s).
  assert [(word["start"], word["end"]) for word in words] == [pytest.approx((0.02, 0.10)), pytest.approx((0.18, 0.28))]
  hi = sum(probability(peak) for peak in PEAKS[1:5]) / 4
  too = sum(probability(peak) for peak in PEAKS[9:14]) / 5
  assert [word["confidence"] for word in words] == [pytest.approx(hi), pytest.approx(too)]


def test_the_stride_comes_from_the_config_layer_table():
  assert time_stride([conv_layer(11, 8, 1.0, stride=2), conv_layer(5, 8, 1.0, repeat=3)]) == 2
  assert time_stride([conv_layer(11, 8, 1.0, stride=2), conv_layer(5, 8, 1.0, repeat=2, stride=3)]) == 18
  # The tiny config: Jasper's stride-2 prologue over 10 ms features, 20 ms per logit frame.
  config = load_config_module(CONFIG)
  assert frame_seconds(config, {"window_stride": 0.01}) == pytest.approx(0.02)


def test_forced_alignment_of_the_greedy_transcript_is_the_greedy_path():
  rng = np.random.default_rng(3)
  logits = rng.normal(size=(60, BLANK + 1)) * 3
  logits[:, BLANK] += 2.0  # mostly blanks, as CTC models emit
  path = greedy_path(logits)
  ids = [int(c) for t, c in enumerate(path) if c != BLANK and (t == 0 or c != path[t - 1])]
  assert list(forced_path(log_softmax(logits), ids)) == list(path)


def test_forced_alignment_spells_another_transcript():
  logits, _ = hand_built_logits()
  text = "hit too"  # not the greedy transcript: the path must make room for the t
  ids = [LABELS.index(char) for char in text]
  path = forced_path(log_softmax(logits), ids)
  assert [LABELS[label] for label, _, _ in character_spans(path, BLANK)] == list(text)
  assert [word for word, _, _ in word_spans(path, LABELS)] == ["hit", "too"]
  assert list(forced_path(log_softmax(logits), [])) == [BLANK] * len(PATH)


def test_a_transcript_longer_than_the_frames_allow_is_refused():
  logits = np.zeros((2, BLANK + 1), np.float32)
  with pytest.raises(ValueError, match="no CTC path of 2 frames spells these 2 characters"):
    forced_path(log_softmax(logits), [1, 1])  # a a needs a blank between: 3 frames
