"""atomic_output: the target is replaced only by a complete file; a failed write leaves it untouched."""
import os

import pytest

from open_seq2seq.utils.atomic import atomic_output, is_temp_path, temp_path_for


def test_success_replaces_target(tmp_path):
  target = str(tmp_path / "out.csv")
  with open(target, "w") as handle:
    handle.write("old")
  with atomic_output(target) as tmp, open(tmp, "w") as handle:
    assert is_temp_path(tmp) and os.path.dirname(tmp) == str(tmp_path)
    handle.write("new")
  assert open(target).read() == "new"
  assert os.listdir(str(tmp_path)) == ["out.csv"]


def test_failure_keeps_previous_file_and_cleans_up(tmp_path):
  target = str(tmp_path / "out.csv")
  with open(target, "w") as handle:
    handle.write("old")
  with pytest.raises(RuntimeError):
    with atomic_output(target) as tmp, open(tmp, "w") as handle:
      handle.write("half")
      raise RuntimeError("disk full")
  assert open(target).read() == "old"
  assert os.listdir(str(tmp_path)) == ["out.csv"]


def test_temp_names_are_unique():
  names = {temp_path_for("/x/y.wav") for _ in range(100)}
  assert len(names) == 100 and not is_temp_path("y.wav")


def test_remove_temp_files_of_one_target_keeps_the_others(tmp_path):
  from open_seq2seq.utils.atomic import remove_temp_files
  mine, other = temp_path_for(str(tmp_path / "a.csv")), temp_path_for(str(tmp_path / "b.csv"))
  for path in (mine, other, str(tmp_path / "a.csv")):
    open(path, "w").close()
  remove_temp_files(str(tmp_path), target="a.csv")
  assert sorted(os.listdir(tmp_path)) == sorted(["a.csv", os.path.basename(other)])
  remove_temp_files(str(tmp_path))
  assert os.listdir(tmp_path) == ["a.csv"]
