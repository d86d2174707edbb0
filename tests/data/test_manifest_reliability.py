"""Manifests whose quoting swallows rows, blank transcripts and infer output that would lose rows: refused or
reported, never silently shortened (issue 14, cases 4 and 5)."""
import csv
import os

import numpy as np
import pytest
import soundfile as sf

from open_seq2seq.data.speech2text.manifest import read_csv, read_manifests
from open_seq2seq.models.speech2text import check_prediction_rows
from open_seq2seq.utils.config import write_eval_set_infer_config
from tests.data.test_speech2text_data_layer import layer, write_corpus
from tests.e2e.e2e_helpers import CONFIG, run_script

HEADER = "wav_filename,wav_filesize,transcript"


def _write(path, text, encoding="utf-8"):
  with open(str(path), "w", encoding=encoding, newline="") as handle:
    handle.write(text)
  return str(path)


# (rows after the header, line where the broken row starts): an unclosed quote in a middle row and in the last
# row, closed by a later stray quote, at the end of a file without a final newline, and text after a quote.
SWALLOWING = [
    (['a.wav,1,one', 'b.wav,2,"two', 'c.wav,3,three', 'd.wav,4,four'], 3),
    (['a.wav,1,one', 'b.wav,2,two', 'c.wav,3,three', 'd.wav,4,"four'], 5),
    (['a.wav,1,one', 'b.wav,2,"two', 'c.wav,3,three"', 'd.wav,4,four'], 3),
    (['a.wav,1,"one', 'b.wav,2,two', 'c.wav,3,three', 'd.wav,4,four"'], 2),
    (['"a.wav,1,one', 'b.wav,2,two'], 2),
    (['a.wav,1,"one" and more', 'b.wav,2,two'], 2),
]


@pytest.mark.parametrize("rows,line", SWALLOWING)
@pytest.mark.parametrize("final_newline", [True, False])
def test_quote_that_swallows_rows_is_refused_naming_file_and_line(tmp_path, rows, line, final_newline):
  path = _write(tmp_path / "m.csv", HEADER + "\n" + "\n".join(rows) + ("\n" if final_newline else ""))
  expected = r"m\.csv line {}: ".format(line)
  for bad_rows in (None, []):  # skip_bad_data does not skip it: the rows after it cannot be trusted
    with pytest.raises(ValueError, match=expected):
      read_manifests([path], bad_rows=bad_rows)


def test_bom_crlf_spaces_and_quoting_parse_as_written(tmp_path):
  text = ('\ufeff wav_filename , wav_filesize ,transcript\r\n'
          'my files/a b.wav,1,"one, two"\r\n'
          '\r\n'
          'c.wav,2,"say ""hi"""\r\n'
          'd.wav,3,plain\r\n')
  path = _write(tmp_path / "m.csv", text)
  rows = read_manifests([path])
  assert [(r.wav_filename, r.transcript, r.row_number) for r in rows] == [
      ("my files/a b.wav", "one, two", 2), ("c.wav", 'say "hi"', 4), ("d.wav", "plain", 5)]
  assert rows[0].path == os.path.join(str(tmp_path), "my files", "a b.wav")
  assert read_csv(path)[0] == ["wav_filename", "wav_filesize", "transcript"]


def test_non_utf8_manifest_is_named(tmp_path):
  path = _write(tmp_path / "latin.csv", HEADER + "\na.wav,1,caf\u00e9\n", encoding="latin-1")
  with pytest.raises(ValueError, match=r"latin\.csv: not a readable UTF-8 CSV file \(line 2: "):
    read_manifests([path])


@pytest.mark.parametrize("mode", ["eval", "infer"])
def test_data_layer_refuses_a_swallowing_quote_in_every_mode(tmp_path, mode):
  manifest = write_corpus(str(tmp_path), ["one", "two", "three", "four"])
  with open(manifest) as handle:
    lines = handle.read().splitlines()
  lines[2] = lines[2].replace(",two", ',"two')
  _write(manifest, "\n".join(lines) + "\n")
  with pytest.raises(ValueError, match=r"manifest\.csv line 3: .*never closed"):
    layer(manifest, mode=mode)


@pytest.mark.parametrize("blank", ["", " ", "   ", " \t ", "'", "' '"])
def test_blank_transcript_is_refused_like_an_empty_one(tmp_path, blank):
  manifest = write_corpus(str(tmp_path), ["hello", "world"])
  with open(manifest) as handle:
    lines = handle.read().splitlines()
  lines[2] = lines[2].rsplit(",", 1)[0] + ',"{}"'.format(blank)
  _write(manifest, "\n".join(lines) + "\n")
  with pytest.raises(ValueError, match=r"manifest\.csv row 3: (empty transcript|transcript character '\\t')"):
    layer(manifest)
  skipping = layer(manifest, skip_bad_data=True)
  assert skipping.get_size_in_samples() == 1 and any("row 3" in problem for problem in skipping.skipped)


@pytest.mark.parametrize("mode", ["eval", "infer"])
def test_a_file_listed_twice_is_refused_in_eval_and_infer_not_in_train(tmp_path, mode):
  """A WER or a prediction file counts each utterance once: a repeated row means manifests concatenated twice."""
  manifest = write_corpus(str(tmp_path), ["one", "two", "three"])
  with open(manifest) as handle:
    lines = handle.read().splitlines()
  _write(manifest, "\n".join(lines + [lines[2]]) + "\n")
  with pytest.raises(ValueError, match=r"manifest\.csv rows 3 and 5: .* is listed twice"):
    layer(manifest, mode=mode)
  assert layer(manifest, mode="train").get_size_in_samples() == 4


PARAMS = {"dataset_files": ["m.csv"], "skip_bad_data": False, "max_duration": -1.0, "min_duration": -1.0}
NAMES = ["a.wav", "b.wav", "c.wav", "d.wav"]


def test_every_row_predicted_passes_in_any_order():
  check_prediction_rows([3, 0, 2, 1], NAMES, PARAMS)


def test_rows_lost_without_a_dropping_setting_are_an_error():
  with pytest.raises(ValueError, match=r"Inference lost rows: 2 of 4 rows of m\.csv have no prediction: b\.wav, "
                                       r"d\.wav"):
    check_prediction_rows([0, 2], NAMES, PARAMS)


@pytest.mark.parametrize("setting", [{"skip_bad_data": True}, {"max_duration": 16.7}, {"min_duration": 0.5},
                                     {"max_feature_length": 800}])
def test_rows_dropped_on_purpose_are_counted_and_named(capsys, setting):
  check_prediction_rows([0, 1, 3], NAMES, dict(PARAMS, **setting))
  out = capsys.readouterr().out
  key, value = next(iter(setting.items()))
  assert "Inference writes 3 rows; 1 of 4 rows of m.csv have no prediction: c.wav" in out
  assert "dropped by {}={}".format(key, value) in out


def test_a_row_predicted_twice_is_an_error():
  with pytest.raises(ValueError, match="predicted 1 rows more than once"):
    check_prediction_rows([0, 1, 1, 2, 3], NAMES, PARAMS)


# End to end through run.py, as a user would meet it.

@pytest.fixture(scope="module")
def checkpoint_dir(env, tmp_path_factory):
  logdir = str(tmp_path_factory.mktemp("quote") / "logdir")
  run_script(["run.py", "--config_file=" + CONFIG, "--mode=train", "--logdir=" + logdir, "--max_steps=1",
              "--save_checkpoint_steps=1"], env)
  return logdir


def _run(env, checkpoint_dir, tmp_path, manifest, mode, skip_bad_data=False):
  config = write_eval_set_infer_config(CONFIG, str(tmp_path / "config.py"), dataset_files=[manifest])
  if skip_bad_data:
    with open(config, "a") as handle:
      handle.write("infer_params['data_layer_params']['skip_bad_data'] = True\n")
  output = str(tmp_path / "predictions.csv")
  args = ["run.py", "--config_file=" + config, "--mode=" + mode, "--logdir=" + checkpoint_dir]
  result = run_script(args + (["--infer_output_file=" + output] if mode == "infer" else []), env, check=False)
  return result, output


def _test_manifest(corpus, tmp_path, edit_line=None, quote=True):
  """The first four rows of the corpus's test manifest, in a copy whose row ``edit_line`` opens a quote."""
  with open(os.path.join(corpus, "librivox-test-clean.csv"), newline="") as handle:
    rows = list(csv.reader(handle))[:5]
  lines = [",".join([os.path.join(corpus, row[0])] + row[1:]) if index else ",".join(row)
           for index, row in enumerate(rows)]
  if edit_line is not None and quote:
    name, size, text = lines[edit_line - 1].split(",")
    lines[edit_line - 1] = '{},{},"{}'.format(name, size, text)
  return _write(tmp_path / "quoted.csv", "\n".join(lines) + "\n")


@pytest.mark.parametrize("mode", ["infer", "eval"])
@pytest.mark.parametrize("line", [3, 5])
def test_run_refuses_a_swallowing_quote(env, corpus, checkpoint_dir, tmp_path, mode, line):
  manifest = _test_manifest(corpus, tmp_path, line)
  result, output = _run(env, checkpoint_dir, tmp_path, manifest, mode)
  assert result.returncode != 0
  errors = [text for text in result.stderr.splitlines() if text.startswith("*** Error:")]
  assert len(errors) == 1 and "quoted.csv line {}".format(line) in errors[0], result.stderr[-2000:]
  assert "Traceback" not in result.stderr and not os.path.exists(output)


@pytest.mark.parametrize("mode", ["infer", "eval"])
def test_run_refuses_a_stray_carriage_return_and_a_nul_byte(env, corpus, checkpoint_dir, tmp_path, mode):
  manifest = _test_manifest(corpus, tmp_path)
  with open(manifest, newline="") as handle:
    lines = handle.read().split("\n")
  for stray, line in (("\r", 3), ("\0", 4)):
    broken = list(lines)
    broken[line - 1] = broken[line - 1][:-2] + stray + broken[line - 1][-2:]
    _write(manifest, "\n".join(broken))
    result, output = _run(env, checkpoint_dir, tmp_path, manifest, mode)
    errors = [text for text in result.stderr.splitlines() if text.startswith("*** Error:")]
    assert result.returncode != 0 and len(errors) == 1, result.stderr[-2000:]
    assert "quoted.csv line {}: a {}".format(line, "carriage return" if stray == "\r" else "NUL byte") in errors[0]
    assert "Traceback" not in result.stderr and not os.path.exists(output)


def test_infer_says_which_rows_skip_bad_data_left_out(env, corpus, checkpoint_dir, tmp_path):
  manifest = _test_manifest(corpus, tmp_path)
  with open(manifest, newline="") as handle:
    names = [row[0] for row in csv.reader(handle)][1:]
  broken = str(tmp_path / "broken.wav")
  _write(broken, "not audio at all")
  with open(manifest) as handle:
    text = handle.read().replace(names[1], broken)
  _write(manifest, text)
  result, output = _run(env, checkpoint_dir, tmp_path, manifest, "infer", skip_bad_data=True)
  assert result.returncode == 0, result.stderr[-2000:]
  with open(output, newline="") as handle:
    written = [row[0] for row in csv.reader(handle)][1:]
  assert written == [names[0]] + names[2:]
  assert "Inference writes 3 rows; 1 of 4 rows of {} have no prediction: {}".format(manifest, broken) in result.stdout


def _rewrite_audio(manifest, tmp_path, subtype, edit=None):
  """A copy of ``manifest`` whose WAVs are rewritten as ``subtype`` (samples as float in [-1, 1), then ``edit``)."""
  with open(manifest, newline="") as handle:
    rows = list(csv.reader(handle))
  for row in rows[1:]:
    samples, rate = sf.read(row[0], dtype="float64")
    row[0] = str(tmp_path / "{}_{}".format(subtype, os.path.basename(row[0])))
    sf.write(row[0], edit(samples) if edit else samples, rate, subtype=subtype)
  copy = str(tmp_path / "{}.csv".format(subtype))
  with open(copy, "w", newline="") as handle:
    csv.writer(handle).writerows(rows)
  return copy


@pytest.mark.parametrize("subtype", ["FLOAT", "DOUBLE", "PCM_24"])
def test_data_layer_features_of_float_wavs_equal_the_16_bit_originals(corpus, tmp_path, subtype):
  original = _test_manifest(corpus, tmp_path)
  layers = [layer(manifest, mode="infer", backend=backend) for backend in ("librosa", "psf")
            for manifest in (original, _rewrite_audio(original, tmp_path, subtype))]
  for index in range(4):
    # The corpus's int16 samples are exact in every one of these formats: the features must be identical.
    for pcm16, other in (layers[:2], layers[2:]):
      np.testing.assert_allclose(other.features_of(index, seed=0)[0], pcm16.features_of(index, seed=0)[0],
                                 rtol=0, atol=1e-5)


def _nan_at_middle(samples):
  samples = samples.copy()
  samples[len(samples) // 2] = np.nan
  return samples


@pytest.mark.parametrize("mode", ["eval", "infer"])
def test_nan_samples_are_one_error_naming_the_file(env, corpus, checkpoint_dir, tmp_path, mode):
  manifest = _rewrite_audio(_test_manifest(corpus, tmp_path), tmp_path, "FLOAT", _nan_at_middle)
  result, output = _run(env, checkpoint_dir, tmp_path, manifest, mode)
  assert result.returncode != 0
  errors = [text for text in result.stderr.splitlines() if text.startswith("*** Error:")]
  assert len(errors) == 1 and "FLOAT_" in errors[0] and "non-finite samples" in errors[0], result.stderr[-3000:]
  assert "Traceback" not in result.stderr and not os.path.exists(output)


# Rows of a four-utterance manifest with a stray character put into line ``line`` (1-based, header = 1).
ROWS = ["a.wav,1,one", "b.wav,2,two two", "c.wav,3,three", "d.wav,4,four"]


def _with_stray(stray, line, where):
  lines = [HEADER] + ROWS
  text = lines[line - 1]
  lines[line - 1] = text[:3] + stray + text[3:] if where == "path" else text[:-2] + stray + text[-2:]
  return "\n".join(lines) + "\n"


@pytest.mark.parametrize("line", [2, 3, 5])
@pytest.mark.parametrize("where", ["path", "transcript"])
def test_a_stray_carriage_return_is_refused_naming_its_line(tmp_path, line, where):
  # csv splits a row at a lone \r: the row's transcript would be cut short and its tail look like a short row.
  path = _write(tmp_path / "m.csv", _with_stray("\r", line, where))
  for bad_rows in (None, []):
    with pytest.raises(ValueError, match=r"m\.csv line {}: a carriage return".format(line)):
      read_manifests([path], bad_rows=bad_rows)


@pytest.mark.parametrize("line_end", ["\r\n", "\r", "\r\r\n"])
def test_crlf_and_cr_only_manifests_read_like_lf(tmp_path, line_end):
  lf = read_manifests([_write(tmp_path / "lf.csv", "\n".join([HEADER] + ROWS) + "\n")])
  other = read_manifests([_write(tmp_path / "other.csv", line_end.join([HEADER] + ROWS) + line_end)])
  expected = [(name, text, line) for line, (name, _, text) in enumerate((row.split(",") for row in ROWS), start=2)]
  assert ([(r.wav_filename, r.transcript, r.row_number) for r in other] ==
          [(r.wav_filename, r.transcript, r.row_number) for r in lf] == expected)


@pytest.mark.parametrize("line", [1, 3, 5])
@pytest.mark.parametrize("where", ["path", "transcript"])
def test_a_nul_byte_is_refused_naming_its_line(tmp_path, line, where):
  path = _write(tmp_path / "m.csv", _with_stray("\0", line, where))
  with pytest.raises(ValueError, match=r"m\.csv line {}: a NUL byte".format(line)):
    read_manifests([path], bad_rows=[], need_transcripts=False)


def test_utf16_manifest_is_refused(tmp_path):
  path = _write(tmp_path / "u16.csv", "\n".join([HEADER] + ROWS) + "\n", encoding="utf-16-le")
  with pytest.raises(ValueError, match=r"u16\.csv line 1: a NUL byte"):
    read_manifests([path])


def test_non_utf8_text_is_named_by_line(tmp_path):
  path = _write(tmp_path / "latin.csv", "\n".join([HEADER] + ROWS[:2] + ["c.wav,3,caf\u00e9"] + ROWS[3:]) + "\n",
                encoding="latin-1")
  with pytest.raises(ValueError, match=r"latin\.csv: not a readable UTF-8 CSV file \(line 4: "):
    read_manifests([path])


def test_a_repeated_header_is_named_not_read_as_a_file(tmp_path):
  # Two manifests joined with `cat`: the second header would otherwise be an utterance named "wav_filename".
  path = _write(tmp_path / "m.csv", "\n".join([HEADER] + ROWS[:2] + [HEADER] + ROWS[2:]) + "\n")
  with pytest.raises(ValueError, match=r"m\.csv row 4: repeats the header"):
    read_manifests([path])
  bad_rows = []
  rows = read_manifests([path], bad_rows=bad_rows)
  assert [r.wav_filename for r in rows] == NAMES and len(bad_rows) == 1 and "row 4: repeats" in bad_rows[0]


@pytest.mark.parametrize("text", ["", "\n", "\r\n\r\n", "\ufeff"])
def test_an_empty_manifest_is_named_as_empty(tmp_path, text):
  with pytest.raises(ValueError, match=r"m\.csv: the file is empty"):
    read_manifests([_write(tmp_path / "m.csv", text)], need_transcripts=False)
