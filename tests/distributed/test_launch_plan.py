"""run_8p.sh's launch plan from a rank table: one horovodrun host list on CPU/GPU, one record per local rank with
its environment on Ascend (the npu_bridge test double), and one-line errors naming the problem."""
import os

import pytest

from open_seq2seq.distributed import launch_plan as launch_plan_module
from open_seq2seq.distributed.launch_plan import launch_plan, main, this_server

DATA_DIR = os.path.join(os.path.dirname(__file__), "data")
TWO_SERVERS = os.path.join(DATA_DIR, "rank_table_2servers_2devices.json")


def test_cpu_plan_is_one_host_list(no_npu_bridge, monkeypatch):
  del no_npu_bridge
  monkeypatch.setenv("JASPER_BACKEND", "cpu")
  assert launch_plan(TWO_SERVERS, "", "7") == [["world_size", "4"], ["backend", "cpu"],
                                               ["hosts", "10.0.0.11:2,10.0.0.12:2"]]


def test_ascend_plan_lists_this_servers_ranks_with_their_environment(fake_npu_bridge, monkeypatch):
  del fake_npu_bridge
  monkeypatch.delenv("JASPER_BACKEND", raising=False)
  records = launch_plan(TWO_SERVERS, "10.0.0.12", "7")
  assert records[:2] == [["world_size", "4"], ["backend", "npu"]]
  table = os.path.abspath(TWO_SERVERS)
  assert records[2:] == [
      ["rank", str(rank), str(device)] + sorted([
          "ASCEND_DEVICE_ID={}".format(device), "DEVICE_ID={}".format(device), "DEVICE_INDEX={}".format(rank),
          "JOB_ID=7", "RANK_ID={}".format(rank), "RANK_SIZE=4", "RANK_TABLE_FILE={}".format(table)])
      for rank, device in ((2, 0), (3, 1))]


def test_this_server_is_the_one_with_a_local_address(monkeypatch):
  assert launch_plan_module.is_local("127.0.0.1")
  local_addresses = {"10.0.0.12"}
  monkeypatch.setattr(launch_plan_module, "is_local", local_addresses.__contains__)
  assert this_server(["10.0.0.11", "10.0.0.12"], "") == "10.0.0.12"
  assert this_server(["10.0.0.11"], "") == "10.0.0.11"  # a one-server table needs no probing
  assert this_server(["10.0.0.11", "10.0.0.12"], "10.0.0.11") == "10.0.0.11"
  with pytest.raises(ValueError, match=r"--server_id=10.9.9.9 is not in the table \(servers: 10.0.0.11\)"):
    this_server(["10.0.0.11"], "10.9.9.9")
  with pytest.raises(ValueError, match=r"\(10.0.0.11, 10.0.0.13\) this machine is \(0 of them"):
    this_server(["10.0.0.11", "10.0.0.13"], "")
  local_addresses.add("10.0.0.11")
  with pytest.raises(ValueError, match=r"\(2 of them have a local address\); pass --server_id"):
    this_server(["10.0.0.11", "10.0.0.12"], "")


def test_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
  broken = tmp_path / "table.json"
  broken.write_text("{not json")
  assert main([str(broken), "", "7"]) == 2
  error = capsys.readouterr().err
  assert error.startswith("run_8p.sh: ") and error.count("\n") == 1 and str(broken) in error
  assert main(["only-one-argument"]) == 2
