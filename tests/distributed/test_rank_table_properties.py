"""Property tests of the rank-table parser: arbitrary input yields a table or a RankTableError, never another
exception; every valid table parses into exactly what it describes."""
import ipaddress
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from open_seq2seq.distributed.rank_table import (RankLocation, RankTableError, parse_rank_table,
                                                 rank_table_from_document)

FIELD_NAMES = ["server_count", "server_list", "status", "version", "server_id", "device", "device_id",
               "device_ip", "rank_id"]
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                         st.text(max_size=12), st.sampled_from(["0", "1", "-1", "1.0", "completed",
                                                                "127.0.0.1", "007", "\u0663"]))
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=6)), children, max_size=5)),
    max_leaves=20)
ipv4_addresses = st.integers(min_value=0, max_value=2 ** 32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))


@st.composite
def valid_documents(draw):
  """A v1.0 table with 1-4 servers of 1-8 devices and the ranks 0..N-1 in any order."""
  device_counts = draw(st.lists(st.integers(min_value=1, max_value=8), min_size=1, max_size=4))
  server_ids = draw(st.lists(ipv4_addresses, min_size=len(device_counts), max_size=len(device_counts),
                             unique=True))
  ranks = draw(st.permutations(range(sum(device_counts))))
  servers = []
  for server_id, count in zip(server_ids, device_counts):
    device_ids = draw(st.lists(st.integers(min_value=0, max_value=15), min_size=count, max_size=count,
                               unique=True))
    devices = [{"device_id": str(device_id), "device_ip": draw(ipv4_addresses), "rank_id": str(ranks.pop())}
               for device_id in device_ids]
    servers.append({"server_id": server_id, "device": devices})
  return {"server_count": str(len(servers)), "server_list": servers, "status": "completed", "version": "1.0"}


def document_of(table):
  return {"server_count": str(len(table.servers)),
          "server_list": [{"server_id": server.server_id,
                           "device": [{"device_id": str(device.device_id), "device_ip": device.device_ip,
                                       "rank_id": str(device.rank_id)} for device in server.devices]}
                          for server in table.servers],
          "status": "completed", "version": table.version}


def parses_or_rejects(document):
  try:
    rank_table_from_document(document, source="generated")
  except RankTableError as error:
    assert error.source == "generated" and error.json_path


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_arbitrary_documents_only_raise_rank_table_error(document):
  parses_or_rejects(document)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_only_raises_rank_table_error(text):
  try:
    parse_rank_table(text)
  except RankTableError:
    pass


def _leaf_paths(node, prefix=()):
  yield prefix
  if isinstance(node, dict):
    for key, child in node.items():
      yield from _leaf_paths(child, prefix + (key,))
  elif isinstance(node, list):
    for index, child in enumerate(node):
      yield from _leaf_paths(child, prefix + (index,))


@settings(max_examples=300, deadline=None)
@given(valid_documents(), st.data())
def test_one_corrupted_field_only_raises_rank_table_error(document, data):
  """Near-valid tables reach the deeper checks that random documents rarely get past."""
  path = data.draw(st.sampled_from([path for path in _leaf_paths(document) if path]))
  parent = document
  for key in path[:-1]:
    parent = parent[key]
  if data.draw(st.booleans()) and isinstance(parent, dict):
    del parent[path[-1]]
  else:
    parent[path[-1]] = data.draw(json_values)
  parses_or_rejects(document)


@settings(max_examples=200, deadline=None)
@given(valid_documents())
def test_valid_tables_round_trip(document):
  table = parse_rank_table(json.dumps(document), source="generated")
  assert document_of(table) == document
  assert table.world_size == sum(len(server["device"]) for server in document["server_list"])
  for server in document["server_list"]:
    for device in server["device"]:
      assert table.location_of(int(device["rank_id"])) == RankLocation(server["server_id"],
                                                                        int(device["device_id"]))
