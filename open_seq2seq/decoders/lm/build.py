"""Estimates a word n-gram language model (interpolated Kneser-Ney) from text and writes it as ARPA, for the
CTC beam-search decoder (scripts/decode.py).

    python scripts/build_lm.py --text data/mini_librispeech/librispeech-lm-norm.txt \\
        --output data/mini_librispeech/lm-3gram.arpa --order 3

The text holds one sentence per line (the format of LibriSpeech's librispeech-lm-norm.txt); it is lower-cased
like the importer's transcripts, and with ``--vocab`` a line with a character outside the model's alphabet is
an error naming the file and line. ``--lexicon`` adds the words of word lists (one word per line, e.g. Debian's
/usr/share/dict/words) to the model's vocabulary: a word the text never uses then costs the uniform unigram share
instead of the decoder's unknown-word penalty; lexicon words with characters outside ``--vocab`` are skipped and
counted, since a word list is not a transcript. Pure Python: fine for millions of words; for the full 800M-word
LibriSpeech text use KenLM's lmplz (the decoder reads any ARPA file).
"""
import argparse

from open_seq2seq.data.vocab import load_vocab
from open_seq2seq.decoders.lm.kneser_ney import estimate_kneser_ney, write_arpa
from open_seq2seq.decoders.lm.text_files import read_text_lines
from open_seq2seq.utils.atomic import atomic_output
from open_seq2seq.utils.cli import one_line_errors


def read_alphabet(vocab_file):
  """The set of characters of a vocabulary file."""
  return set(load_vocab(vocab_file))


def read_sentences(path, alphabet=None):
  """Yields the words of every non-blank line of a sentence file, lower-cased; ValueError naming file and line for
  a character outside ``alphabet`` (a set of characters; None: any)."""
  for number, line in read_text_lines(path):
    sentence = " ".join(line.lower().split())
    if not sentence:
      continue
    if alphabet is not None:
      unknown = sorted(set(sentence) - alphabet)
      if unknown:
        raise ValueError("{}:{}: characters {} are not in the vocabulary; expected only {!r}".format(
            path, number, unknown, "".join(sorted(alphabet))))
    yield sentence.split()


def read_lexicon(path, alphabet=None):
  """(words, number skipped) of a one-word-per-line list, lower-cased, without words outside ``alphabet``."""
  words, skipped = set(), 0
  for number, line in read_text_lines(path):
    fields = line.lower().split()
    if not fields:
      continue
    if len(fields) > 1:
      raise ValueError("{}:{}: expected one word per line, got {!r}".format(path, number, line.strip()))
    if alphabet is not None and not set(fields[0]) <= alphabet:
      skipped += 1
      continue
    words.add(fields[0])
  return words, skipped


def main(argv=None):
  """Builds the LM the command line ``argv`` (default: sys.argv[1:]) asks for; returns 0. Raises ValueError for
  text outside --vocab or a malformed word list, OSError for a file that cannot be read or written."""
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--text", required=True, nargs="+", help="sentence files (.txt or .txt.gz)")
  parser.add_argument("--output", required=True, help="ARPA file to write")
  parser.add_argument("--order", type=int, default=3)
  parser.add_argument("--vocab", help="character vocabulary file of the acoustic model, to check the text")
  parser.add_argument("--lexicon", nargs="*", default=[],
                      help="word lists whose words join the LM vocabulary (e.g. /usr/share/dict/words)")
  args = parser.parse_args(argv)
  alphabet = read_alphabet(args.vocab) if args.vocab else None
  sentences = [words for path in args.text for words in read_sentences(path, alphabet)]
  lexicon = set()
  for path in args.lexicon:
    words, skipped = read_lexicon(path, alphabet)
    lexicon |= words
    print("{}: {} words{}".format(path, len(words), ", {} skipped (characters outside {})".format(
        skipped, args.vocab) if skipped else ""))
  model = estimate_kneser_ney(sentences, args.order, extra_vocabulary=lexicon)
  with atomic_output(args.output) as tmp_file, open(tmp_file, "w", encoding="utf-8") as handle:
    write_arpa(model, handle)
  print("{}: {}-gram model of {} sentences, {} words; n-grams per order: {}".format(
      args.output, args.order, len(sentences), sum(len(s) for s in sentences),
      ", ".join(str(len(model[k])) for k in sorted(model))))
  return 0


# The entry point of scripts/build_lm.py and the console script jasper-build-lm.
cli = one_line_errors(prefix="build_lm.py: error: ")(main)
