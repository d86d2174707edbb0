"""bench/lm_scale.py's parts: the table from fabricated rows (ratios to the in-house row of the same model, a
failed row, a contended figure), the summary of a probe's passes, the time and memory caps of a measuring
process, the ARPA header reader, and one tiny run of the whole bench (skipped without lmplz)."""
import json
import sys

import numpy as np
import pytest

from bench import lm_scale
from bench.lm_scale import add_ratios, add_wer, arpa_header_counts, markdown_table, run_capped, summarise
from open_seq2seq.data.speech2text.logits_file import write_logits
from open_seq2seq.data.vocab import load_labels
from tests.e2e.e2e_helpers import REPO

VOCAB = REPO + "/open_seq2seq/test_utils/toy_speech_data/vocab.txt"
ARPA = """\\data\\
ngram 1=4
ngram 2=2

\\1-grams:
-1.0\t<unk>\t0
0\t<s>\t-0.3
-0.5\t</s>\t0
-0.4\tcat\t-0.2

\\2-grams:
-0.2\t<s> cat
-0.1\tcat </s>

\\end\\
"""


def row(counts, backend, load_s=1.0, utt_per_s=2.0, **extra):
  return dict({"counts": counts, "backend": backend, "file_mib": 1.5, "load_s": load_s, "rss_mib": 100.4,
               "utt_per_s": utt_per_s, "rtf": 0.05, "contended": False}, **extra)


def test_table_gives_ratios_to_the_in_house_row_of_the_same_model():
  small, large = {1: 10, 2: 20, 3: 30}, {1: 100, 2: 200, 3: 300}
  rows = add_ratios([row(small, "in_house", load_s=2.0, utt_per_s=1.0),
                     row(small, "pyctcdecode_binary", load_s=0.5, utt_per_s=8.0, contended=True, wer=0.125),
                     dict(counts=large, backend="in_house", file_mib=900.0, failure="did not finish (over 600 s)"),
                     row(large, "pyctcdecode_arpa", load_s=3.0, utt_per_s=4.0)])
  lines = markdown_table(rows).splitlines()
  assert len(lines) == 6 and all(line.count("|") == 11 for line in lines)
  assert lines[2] == "| 60 (10/20/30) | in-house | 1.5 | 2.00 | 100 | 1.00 | 0.0500 | - | 1.00x | 1.00x |"
  assert lines[3] == ("| 60 (10/20/30) | pyctcdecode, KenLM binary | 1.5 | 0.50 | 100 | 8.00* | 0.0500* | 12.50 | "
                      "0.25x | 8.00x |")
  assert lines[4] == "| 600 (100/200/300) | in-house | 900.0 | did not finish (over 600 s) | | | | | | |"
  assert lines[5].endswith("| 3.00 | 100 | 4.00 | 0.0500 | - | - | - |")


def probe_result(passes):
  return {"load_s": 1.5, "rss_before_kib": 1000, "rss_after_kib": 3048, "utterances": 4, "frames": 500,
          "step_size": 0.02, "passes": passes, "wav_filenames": [], "transcripts": []}


def test_summary_takes_the_median_uncontended_pass():
  passes = [{"seconds": 2.0, "utilisation": 0.95}, {"seconds": 1.0, "utilisation": 0.5},
            {"seconds": 3.0, "utilisation": 0.99}, {"seconds": 2.5, "utilisation": 0.91}]
  summary = summarise(probe_result(passes))
  assert summary["utt_per_s"] == pytest.approx(4 / 2.5) and not summary["contended"]
  assert summary["rtf"] == pytest.approx(2.5 / 10.0) and summary["rss_mib"] == pytest.approx(2.0)
  assert summarise(probe_result(passes), step_size=0.01)["rtf"] == pytest.approx(2.5 / 5.0)


def test_summary_falls_back_to_the_fastest_pass_when_every_pass_was_contended():
  summary = summarise(probe_result([{"seconds": 2.0, "utilisation": 0.6}, {"seconds": 1.6, "utilisation": 0.5}]))
  assert summary["contended"] and summary["utt_per_s"] == pytest.approx(4 / 1.6)


def test_run_capped_returns_output_and_kills_on_time_or_memory():
  output, failure = run_capped([sys.executable, "-c", "print('ok')"], 60, 10 ** 7)
  assert (output, failure) == ("ok\n", None)
  output, failure = run_capped([sys.executable, "-c", "import time; time.sleep(30)"], 0.5, 10 ** 7)
  assert output is None and failure == "did not finish (over 0 s)"
  grow = "import time\nblocks = []\nwhile True:\n  blocks.append(bytearray(10 ** 7))\n  time.sleep(0.01)\n"
  output, failure = run_capped([sys.executable, "-c", grow], 60, 200 * 1024)
  assert output is None and failure.startswith("did not finish (over 0.2 GiB resident after")
  output, failure = run_capped([sys.executable, "-c", "raise SystemExit('broken')"], 60, 10 ** 7)
  assert output is None and failure.startswith("failed (exit 1): broken")


def test_arpa_header(tmp_path):
  arpa = tmp_path / "lm.arpa"
  arpa.write_text(ARPA, encoding="utf-8")
  assert arpa_header_counts(str(arpa)) == {1: 4, 2: 2}


def test_wer_against_the_manifest(tmp_path):
  manifest = tmp_path / "dev.csv"
  manifest.write_text("wav_filename,wav_filesize,transcript\na.wav,10,the cat\nb.wav,10,a dog\n", encoding="utf-8")
  rows = [{"wav_filenames": ["b.wav", "a.wav"], "transcripts": ["a dog", "the hat"]}, {"failure": "did not"}]
  add_wer(rows, str(manifest))
  assert rows[0]["wer"] == pytest.approx(0.25) and "wer" not in rows[1]


def test_tiny_run_of_every_backend(tmp_path):
  try:
    lm_scale.find_kenlm_tool("lmplz")
  except FileNotFoundError as error:
    pytest.skip(str(error))
  pytest.importorskip("pyctcdecode", reason="pyctcdecode is not installed")
  labels = load_labels(VOCAB)
  rng = np.random.default_rng(0)
  logits = [rng.normal(size=(frames, len(labels) + 1)).astype(np.float32) for frames in (30, 20, 25)]
  write_logits(str(tmp_path / "logits.npz"), ["a.wav", "b.wav", "c.wav"], logits, 0.02, labels)
  output = str(tmp_path / "out" / "lm_scale")
  assert lm_scale.main(["--logits", str(tmp_path / "logits.npz"), "--vocab", VOCAB, "--sizes", "400", "--passes",
                        "1", "--utterances", "2", "--idle_timeout", "0", "--work_dir", str(tmp_path),
                        "--output", output]) == 0
  with open(output + ".json", encoding="utf-8") as handle:
    rows = json.load(handle)["rows"]
  assert [r["backend"] for r in rows] == ["in_house", "pyctcdecode_arpa", "pyctcdecode_binary"]
  assert all("failure" not in r and r["utt_per_s"] > 0 and r["rtf"] > 0 for r in rows)
  assert sum(rows[0]["counts"].values()) >= 400
  assert rows[0]["speed_ratio"] == 1.0
  with open(output + ".md", encoding="utf-8") as handle:
    assert handle.read().count("\n| 4") == 3
  assert sorted(p.name for p in tmp_path.iterdir()) == ["logits.npz", "out"]  # generated files deleted
