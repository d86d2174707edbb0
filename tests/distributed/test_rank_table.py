"""Rank table: the shipped tables parse into the expected ranks and hosts; every malformed table is rejected
with an error naming the file and the offending field."""
import copy
import dataclasses
import json
import os

import pytest

from open_seq2seq.distributed.rank_table import (RankLocation, RankTableError, horovodrun_hosts,
                                                 load_rank_table, parse_rank_table)

DATA_DIR = os.path.join(os.path.dirname(__file__), "data")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
EIGHT_DEVICE_TABLE = os.path.join(REPO_ROOT, "scripts", "8p.json")
TWO_DEVICE_TABLE = os.path.join(DATA_DIR, "rank_table_1server_2devices.json")
TWO_SERVER_TABLE = os.path.join(DATA_DIR, "rank_table_2servers_2devices.json")


def two_server_document():
  with open(TWO_SERVER_TABLE) as handle:
    return json.load(handle)


def write_table(tmp_path, document):
  path = str(tmp_path / "rank_table.json")
  with open(path, "w") as handle:
    json.dump(document, handle)
  return path


def test_reference_eight_device_table():
  table = load_rank_table(EIGHT_DEVICE_TABLE)
  assert table.world_size == 8 and table.version == "1.0"
  assert table.slots_per_server == (("127.0.0.1", 8),)
  assert table.rank_locations == tuple(RankLocation("127.0.0.1", device) for device in range(8))
  device_ips = [device.device_ip for device in table.servers[0].devices]
  assert device_ips == ["192.168.100.101", "192.168.101.101", "192.168.102.101", "192.168.103.101",
                        "192.168.100.100", "192.168.101.100", "192.168.102.100", "192.168.103.100"]
  assert horovodrun_hosts(table) == "localhost:8"


def test_two_device_table():
  table = load_rank_table(TWO_DEVICE_TABLE)
  assert table.world_size == 2 and table.source == TWO_DEVICE_TABLE
  assert table.location_of(1) == RankLocation("127.0.0.1", 1)
  assert horovodrun_hosts(table) == "localhost:2"


def test_two_server_table():
  table = load_rank_table(TWO_SERVER_TABLE)
  assert table.world_size == 4
  assert table.slots_per_server == (("10.0.0.11", 2), ("10.0.0.12", 2))
  assert [table.location_of(rank) for rank in range(4)] == [
      RankLocation("10.0.0.11", 0), RankLocation("10.0.0.11", 1),
      RankLocation("10.0.0.12", 0), RankLocation("10.0.0.12", 1)]
  assert horovodrun_hosts(table) == "10.0.0.11:2,10.0.0.12:2"


def test_hosts_follow_rank_order_not_table_order():
  document = two_server_document()
  first, second = document["server_list"]
  for device, rank in zip(first["device"], ("2", "3")):
    device["rank_id"] = rank
  for device, rank in zip(second["device"], ("0", "1")):
    device["rank_id"] = rank
  assert horovodrun_hosts(parse_rank_table(json.dumps(document))) == "10.0.0.12:2,10.0.0.11:2"


def test_single_server_on_its_real_address_keeps_it():
  document = two_server_document()
  document["server_count"] = "1"
  del document["server_list"][1]
  assert horovodrun_hosts(parse_rank_table(json.dumps(document))) == "10.0.0.11:2"


def test_interleaved_ranks_have_no_horovodrun_host_spec():
  document = two_server_document()
  document["server_list"][0]["device"][1]["rank_id"] = "2"
  document["server_list"][1]["device"][0]["rank_id"] = "1"
  with pytest.raises(RankTableError, match="not one contiguous block"):
    horovodrun_hosts(parse_rank_table(json.dumps(document)))


def test_table_is_immutable_and_rank_lookup_checks_range():
  table = load_rank_table(TWO_DEVICE_TABLE)
  with pytest.raises(dataclasses.FrozenInstanceError):
    table.servers = ()
  with pytest.raises(dataclasses.FrozenInstanceError):
    table.servers[0].devices[0].rank_id = 5
  for bad_rank in (-1, 2, "0", True):
    with pytest.raises(ValueError, match="rank must be an integer in 0..1"):
      table.location_of(bad_rank)


def test_unreadable_file_is_named(tmp_path):
  missing = str(tmp_path / "absent.json")
  with pytest.raises(RankTableError, match="cannot read the file") as caught:
    load_rank_table(missing)
  assert caught.value.source == missing and missing in str(caught.value)


def test_invalid_json_reports_line_and_column(tmp_path):
  path = str(tmp_path / "broken.json")
  with open(path, "w") as handle:
    handle.write('{\n  "server_count": "1"\n  "status": "completed"\n}')
  with pytest.raises(RankTableError) as caught:
    load_rank_table(path)
  assert caught.value.json_path == "$"
  assert "line 3 column 3" in str(caught.value) and path in str(caught.value)


def _parent(document, path):
  """The container holding the field at ``path`` (a tuple of keys and indices)."""
  for key in path[:-1]:
    document = document[key]
  return document


def _replace(document, path, value):
  _parent(document, path)[path[-1]] = value


def _delete(document, path):
  del _parent(document, path)[path[-1]]


MISSING_FIELDS = [
    (("version",), "version"),
    (("status",), "status"),
    (("server_count",), "server_count"),
    (("server_list",), "server_list"),
    (("server_list", 1, "server_id"), "server_list[1].server_id"),
    (("server_list", 0, "device"), "server_list[0].device"),
    (("server_list", 1, "device", 0, "device_id"), "server_list[1].device[0].device_id"),
    (("server_list", 0, "device", 1, "device_ip"), "server_list[0].device[1].device_ip"),
    (("server_list", 1, "device", 1, "rank_id"), "server_list[1].device[1].rank_id"),
]


@pytest.mark.parametrize("field,json_path", MISSING_FIELDS, ids=[path for _, path in MISSING_FIELDS])
def test_missing_field(tmp_path, field, json_path):
  document = two_server_document()
  _delete(document, field)
  path = write_table(tmp_path, document)
  with pytest.raises(RankTableError, match="missing field") as caught:
    load_rank_table(path)
  assert caught.value.json_path == json_path
  assert str(caught.value).startswith("rank table {}: {}: ".format(path, json_path))


BAD_VALUES = [
    ("root is a list", (), None, "$", "expected a JSON object, got an array"),
    ("server_count is a number", ("server_count",), 2, "server_count",
     "expected a string holding a non-negative integer"),
    ("rank_id is a number", ("server_list", 0, "device", 1, "rank_id"), 1, "server_list[0].device[1].rank_id",
     "got a number (1)"),
    ("device_id is not numeric", ("server_list", 1, "device", 0, "device_id"), "zero",
     "server_list[1].device[0].device_id", "got the string 'zero'"),
    ("rank_id is negative", ("server_list", 0, "device", 0, "rank_id"), "-1", "server_list[0].device[0].rank_id",
     "non-negative integer"),
    ("rank_id has spaces", ("server_list", 0, "device", 0, "rank_id"), " 0", "server_list[0].device[0].rank_id",
     "non-negative integer"),
    ("rank_id is huge", ("server_list", 0, "device", 0, "rank_id"), "9" * 5000,
     "server_list[0].device[0].rank_id", "too large"),
    ("version is a number", ("version",), 1.0, "version", "expected a string, got a number (1.0)"),
    ("status is null", ("status",), None, "status", "expected a string, got null"),
    ("server_list is an object", ("server_list",), {}, "server_list", "expected a JSON array, got an object"),
    ("server entry is a string", ("server_list", 1), "10.0.0.12", "server_list[1]", "expected a JSON object"),
    ("device list is a string", ("server_list", 0, "device"), "0,1", "server_list[0].device",
     "expected a JSON array"),
    ("device entry is a list", ("server_list", 0, "device", 0), [], "server_list[0].device[0]",
     "expected a JSON object"),
    ("server_id is a number", ("server_list", 0, "server_id"), 10, "server_list[0].server_id",
     "expected a string, got a number (10)"),
    ("server_id is a host name", ("server_list", 0, "server_id"), "node-1", "server_list[0].server_id",
     "expected an IPv4 address"),
    ("device_ip is not an address", ("server_list", 1, "device", 1, "device_ip"), "192.168.1",
     "server_list[1].device[1].device_ip", "expected an IPv4 address"),
    ("device_ip is IPv6", ("server_list", 1, "device", 1, "device_ip"), "::1",
     "server_list[1].device[1].device_ip", "expected an IPv4 address"),
    ("server_count disagrees", ("server_count",), "3", "server_count", "says 3 but server_list holds 2"),
    ("no servers", ("server_list",), [], "server_list", "at least one server"),
    ("no devices", ("server_list", 1, "device"), [], "server_list[1].device", "at least one device"),
    ("status not completed", ("status",), "initializing", "status", "expected \"completed\""),
    ("unsupported version", ("version",), "1.2", "version", "unsupported version '1.2'"),
    ("duplicate rank", ("server_list", 1, "device", 0, "rank_id"), "1", "server_list[1].device[0].rank_id",
     "duplicate rank_id 1 (also server_list[0].device[1].rank_id)"),
    ("gap in ranks", ("server_list", 1, "device", 1, "rank_id"), "7", "server_list[1].device[1].rank_id",
     "rank_id 7 is out of range: 4 devices need rank ids 0..3 (missing: 3)"),
    ("duplicate device", ("server_list", 1, "device", 1, "device_id"), "0", "server_list[1].device[1].device_id",
     "duplicate device_id 0 on server 10.0.0.12 (also server_list[1].device[0].device_id)"),
    ("duplicate server", ("server_list", 1, "server_id"), "10.0.0.11", "server_list[1].server_id",
     "duplicate server_id '10.0.0.11'"),
]


@pytest.mark.parametrize("field,value,json_path,message", [case[1:] for case in BAD_VALUES],
                         ids=[case[0] for case in BAD_VALUES])
def test_malformed_field(tmp_path, field, value, json_path, message):
  document = two_server_document()
  if field:
    _replace(document, field, copy.deepcopy(value))
  else:
    document = [document]
  path = write_table(tmp_path, document)
  with pytest.raises(RankTableError) as caught:
    load_rank_table(path)
  assert caught.value.json_path == json_path and message in caught.value.problem
  assert str(caught.value) == "rank table {}: {}: {}".format(path, json_path, caught.value.problem)
  assert isinstance(caught.value, ValueError)


def test_text_source_is_named_in_errors():
  with pytest.raises(RankTableError, match="^rank table env:RANK_TABLE: version: missing field$"):
    parse_rank_table("{}", source="env:RANK_TABLE")
