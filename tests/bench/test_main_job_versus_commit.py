"""bench/main_job_versus_commit.py: its ratio of throughputs and its refusals (the runs themselves need the
main job's corpus and minutes of CPU: they are the benchmark, not a test)."""
import pytest

from bench.main_job_versus_commit import main, report


def test_report_gives_the_median_ratio_of_audio_seconds_per_wall_second():
  """Three rounds; now / baseline throughput = (40/0.2)/(40/0.25) = 1.25, (50/0.25)/(50/0.25) = 1.0 and
  (30/0.1)/(30/0.2) = 2.0: median 1.25."""
  def run(wall, audio):
    return {"wall": wall, "audio": audio, "cpu": 2 * wall, "real_share": 0.9}
  runs = [{"now": run(0.2, 40.0), "baseline abc": run(0.25, 40.0)},
          {"now": run(0.25, 50.0), "baseline abc": run(0.25, 50.0)},
          {"now": run(0.1, 30.0), "baseline abc": run(0.2, 30.0)}]
  text = report(runs, "baseline abc")
  assert "median 1.25x (rounds: 1.25, 1.00, 2.00)" in text
  assert "| 3 | baseline abc | 0.200 | 150 | 0.400 | 0.900 |" in text


@pytest.mark.parametrize("argv,named", [(["--baseline", "no-such-revision-xyz"], "--baseline"),
                                        (["--baseline", "HEAD", "--rounds", "0"], "--rounds")])
def test_bad_arguments_are_refused_by_name(argv, named, monkeypatch, capsys):
  monkeypatch.setenv("JASPER_MINI_CORPUS", "/nonexistent")
  with pytest.raises(SystemExit) as exit_info:
    main(argv)
  assert exit_info.value.code == 2
  assert named in capsys.readouterr().err


def test_the_corpus_variable_is_required(monkeypatch, capsys):
  monkeypatch.delenv("JASPER_MINI_CORPUS", raising=False)
  with pytest.raises(SystemExit):
    main(["--baseline", "HEAD"])
  assert "JASPER_MINI_CORPUS" in capsys.readouterr().err
