"""The accuracy-budget table from fabricated rows: LM columns appear only when every budget has them, and the
derived dev-inference config runs the original config's eval set through infer mode."""
import runpy

import tensorflow.compat.v1 as tf

from bench.accuracy_budget import markdown
from open_seq2seq.utils.config import write_eval_set_infer_config


def row(budget, **extra):
  return dict({"budget_min": budget, "trained_min": budget - 0.1, "step": 100 * budget, "dev_wer": 0.5 / budget,
               "dev_loss": 20.0, "train_loss": 18.0, "note": ""}, **extra)


def test_table_without_lm():
  table = markdown({"rows": [row(5), row(15)]})
  lines = table.splitlines()
  assert lines[0].count("|") == lines[1].count("|") == lines[2].count("|") == 8
  assert "LM" not in table
  assert lines[2] == "| 5 | 4.9 | 500 | 10.00 | 20.00 | 18.00 |  |"


def test_table_with_lm():
  lm = {"dev_wer_lm": 0.1234, "test_wer_greedy": 0.3, "test_wer_lm": 0.14}
  lines = markdown({"rows": [row(5, **lm), row(30, **lm)]}).splitlines()
  assert "dev WER, LM (%)" in lines[0] and "test WER, LM (%)" in lines[0]
  assert lines[0].count("|") == lines[1].count("|") == lines[3].count("|") == 11
  assert lines[3] == "| 30 | 29.9 | 3000 | 1.67 | 12.34 | 30.00 | 14.00 | 20.00 | 18.00 |  |"


def test_dev_infer_config_runs_the_eval_set_in_infer_mode(tmp_path):
  original = tmp_path / "config.py"
  original.write_text("base_model = 'model'\nbase_params = {'dtype': tf.float32}\n"
                      "eval_params = {'data_layer_params': {'dataset_files': ['dev.csv'], 'shuffle': False}}\n"
                      "infer_params = {'data_layer_params': {'dataset_files': ['test.csv']}}\n")
  derived = write_eval_set_infer_config(str(original), str(tmp_path / "dev_infer_config.py"))
  namespace = runpy.run_path(str(derived), init_globals={"tf": tf})
  assert namespace["infer_params"]["data_layer_params"]["dataset_files"] == ["dev.csv"]
  assert namespace["eval_params"]["data_layer_params"]["dataset_files"] == ["dev.csv"]
  assert namespace["base_params"] == {"dtype": tf.float32}


def test_dev_infer_config_can_swap_the_eval_set(tmp_path):
  original = tmp_path / "config.py"
  original.write_text("base_model = 'model'\nbase_params = {'dtype': tf.float32}\n"
                      "eval_params = {'data_layer_params': {'dataset_files': ['dev.csv'], 'shuffle': False}}\n")
  other = str(tmp_path / "dev-other.csv")
  derived = write_eval_set_infer_config(str(original), str(tmp_path / "other.py"), [other])
  namespace = runpy.run_path(str(derived), init_globals={"tf": tf})
  for mode in ("eval_params", "infer_params"):
    assert namespace[mode]["data_layer_params"] == {"dataset_files": [other], "shuffle": False}
  # the original config's own eval set is untouched
  assert runpy.run_path(str(original), init_globals={"tf": tf})["eval_params"]["data_layer_params"][
      "dataset_files"] == ["dev.csv"]
