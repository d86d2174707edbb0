"""HCCL rank table (v1.0 layout): parsing with field-level errors, and what a launcher derives from it.

Layout (every value a JSON string)::

  {"server_count": "1",
   "server_list": [{"server_id": "<host ip>",
                    "device": [{"device_id": "0", "device_ip": "<device NIC ip>", "rank_id": "0"}, ...]}],
   "status": "completed",
   "version": "1.0"}

Fields outside this layout are ignored, as HCCL does.
"""
import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Tuple

SUPPORTED_VERSIONS = ("1.0",)
_NON_NEGATIVE_INTEGER = re.compile(r"[0-9]+")
# Ids and counts are small; the cap also keeps int() away from its limit on huge digit strings.
_MAX_INTEGER_DIGITS = 9


class RankTableError(ValueError):
  """A rank table that cannot be read or does not describe a usable cluster.

  ``source`` names the file (or the label given to in-memory text), ``json_path`` the offending field
  (``server_list[1].device[0].rank_id``; ``$`` for the document itself).
  """

  def __init__(self, source, json_path, problem):
    super().__init__("rank table {}: {}: {}".format(source, json_path, problem))
    self.source = source
    self.json_path = json_path
    self.problem = problem


@dataclass(frozen=True)
class Device:
  """One device of a server in the rank table."""
  device_id: int
  device_ip: str
  rank_id: int


@dataclass(frozen=True)
class Server:
  """One server of the rank table and its devices."""
  server_id: str
  devices: Tuple[Device, ...]

  @property
  def slot_count(self):
    """Number of devices of the server."""
    return len(self.devices)


@dataclass(frozen=True)
class RankLocation:
  """Where a rank runs: its server and device id."""
  server_id: str
  device_id: int


@dataclass(frozen=True)
class RankTable:
  """A validated HCCL rank table read from ``source``."""
  source: str
  version: str
  servers: Tuple[Server, ...]

  @property
  def world_size(self):
    """Number of ranks: the devices of all servers."""
    return sum(server.slot_count for server in self.servers)

  @property
  def slots_per_server(self):
    """``((server_id, number of devices), ...)`` in table order."""
    return tuple((server.server_id, server.slot_count) for server in self.servers)

  @property
  def rank_locations(self):
    """``rank_locations[r]`` is where rank ``r`` runs (ranks are 0..world_size-1 by validation)."""
    by_rank = {device.rank_id: RankLocation(server.server_id, device.device_id)
               for server in self.servers for device in server.devices}
    return tuple(by_rank[rank] for rank in range(len(by_rank)))

  def location_of(self, rank):
    """The RankLocation of ``rank``; raises ValueError unless it is an int in ``0..world_size-1``."""
    if not isinstance(rank, int) or isinstance(rank, bool) or not 0 <= rank < self.world_size:
      raise ValueError("rank must be an integer in 0..{}, got {!r}".format(self.world_size - 1, rank))
    return self.rank_locations[rank]


def load_rank_table(path):
  """Reads and validates the rank table at ``path``; raises RankTableError naming the bad field."""
  try:
    with open(path, encoding="utf-8") as handle:
      text = handle.read()
  except (OSError, UnicodeDecodeError) as error:
    raise RankTableError(path, "$", "cannot read the file ({})".format(error)) from error
  return parse_rank_table(text, source=path)


def parse_rank_table(text, source="<rank table>"):
  """Validates rank-table JSON text; ``source`` labels the errors (and becomes ``RankTable.source``)."""
  try:
    document = json.loads(text)
  except json.JSONDecodeError as error:
    raise RankTableError(source, "$", "invalid JSON at line {} column {}: {}".format(
        error.lineno, error.colno, error.msg)) from error
  except RecursionError as error:
    raise RankTableError(source, "$", "JSON nested too deeply") from error
  return rank_table_from_document(document, source)


def rank_table_from_document(document, source="<rank table>"):
  """Validates an already decoded JSON document (dicts, lists and strings as ``json.loads`` makes them)."""
  fields = _Fields(source)
  root = fields.object(document, "$")
  version = fields.string(root, "version", "$")
  if version not in SUPPORTED_VERSIONS:
    raise RankTableError(source, "version", "unsupported version {!r}: expected one of {}".format(
        version, ", ".join(repr(v) for v in SUPPORTED_VERSIONS)))
  status = fields.string(root, "status", "$")
  if status != "completed":
    raise RankTableError(source, "status", "expected \"completed\" (the table is final), got {!r}".format(
        status))
  server_count = fields.integer(root, "server_count", "$")
  server_list = fields.array(root, "server_list", "$")
  if not server_list:
    raise RankTableError(source, "server_list", "expected at least one server, got an empty list")
  if server_count != len(server_list):
    raise RankTableError(source, "server_count", "says {} but server_list holds {} server(s)".format(
        server_count, len(server_list)))

  servers = []
  server_id_paths = {}
  rank_paths = {}
  for server_index, server_entry in enumerate(server_list):
    server = _server_from_entry(fields, server_entry, "server_list[{}]".format(server_index), rank_paths)
    id_path = "server_list[{}].server_id".format(server_index)
    if server.server_id in server_id_paths:
      raise RankTableError(source, id_path, "duplicate server_id {!r} (also {})".format(
          server.server_id, server_id_paths[server.server_id]))
    server_id_paths[server.server_id] = id_path
    servers.append(server)

  world_size = len(rank_paths)
  missing = sorted(set(range(world_size)) - set(rank_paths))
  if missing:
    # Ranks are unique, so some rank lies outside 0..world_size-1 exactly when one inside is missing.
    stray = min(rank for rank in rank_paths if rank >= world_size)
    raise RankTableError(source, rank_paths[stray],
                         "rank_id {} is out of range: {} devices need rank ids 0..{} (missing: {})".format(
                             stray, world_size, world_size - 1, ", ".join(str(rank) for rank in missing)))
  return RankTable(source=source, version=version, servers=tuple(servers))


def _server_from_entry(fields, entry, server_path, rank_paths):
  """One ``server_list`` entry; ``rank_paths`` (rank -> JSON path) collects ranks across servers."""
  server_fields = fields.object(entry, server_path)
  server_id = fields.ipv4_address(server_fields, "server_id", server_path)
  device_list = fields.array(server_fields, "device", server_path)
  if not device_list:
    raise RankTableError(fields.source, server_path + ".device", "expected at least one device, got an empty list")
  devices = []
  device_id_paths = {}
  for device_index, device_entry in enumerate(device_list):
    device_path = "{}.device[{}]".format(server_path, device_index)
    device_fields = fields.object(device_entry, device_path)
    device_id = fields.integer(device_fields, "device_id", device_path)
    if device_id in device_id_paths:
      raise RankTableError(fields.source, device_path + ".device_id",
                           "duplicate device_id {} on server {} (also {})".format(
                               device_id, server_id, device_id_paths[device_id]))
    device_id_paths[device_id] = device_path + ".device_id"
    device_ip = fields.ipv4_address(device_fields, "device_ip", device_path)
    rank_id = fields.integer(device_fields, "rank_id", device_path)
    if rank_id in rank_paths:
      raise RankTableError(fields.source, device_path + ".rank_id", "duplicate rank_id {} (also {})".format(
          rank_id, rank_paths[rank_id]))
    rank_paths[rank_id] = device_path + ".rank_id"
    devices.append(Device(device_id=device_id, device_ip=device_ip, rank_id=rank_id))
  return Server(server_id=server_id, devices=tuple(devices))


def horovodrun_hosts(table):
  """The ``-H`` argument of horovodrun that starts rank r where the table places it: ``host1:n1,host2:n2``.

  horovodrun numbers ranks by filling the hosts in the order given, so each server's ranks must form one
  contiguous block; hosts are listed in rank order. A single server on a loopback address becomes
  ``localhost``, which horovodrun starts without ssh.
  """
  blocks = []
  for location in table.rank_locations:
    if blocks and blocks[-1][0] == location.server_id:
      blocks[-1][1] += 1
    else:
      blocks.append([location.server_id, 1])
  seen = set()
  for server_id, _ in blocks:
    if server_id in seen:
      raise RankTableError(table.source, "server_list",
                           "the ranks of server {} are not one contiguous block, which horovodrun cannot "
                           "reproduce (it assigns consecutive ranks per host)".format(server_id))
    seen.add(server_id)
  if len(blocks) == 1 and ipaddress.IPv4Address(blocks[0][0]).is_loopback:
    blocks[0][0] = "localhost"
  return ",".join("{}:{}".format(host, slots) for host, slots in blocks)


class _Fields:
  """Typed field access that reports failures as RankTableError with the field's JSON path."""

  def __init__(self, source):
    self.source = source

  def _error(self, path, problem):
    return RankTableError(self.source, path, problem)

  def object(self, value, path):
    """``value`` if it is a dict, else raises RankTableError at ``path``."""
    if not isinstance(value, dict):
      raise self._error(path, "expected a JSON object, got {}".format(_describe(value)))
    return value

  def _get(self, parent, key, parent_path):
    path = key if parent_path == "$" else "{}.{}".format(parent_path, key)
    if key not in parent:
      raise self._error(path, "missing field")
    return parent[key], path

  def array(self, parent, key, parent_path):
    """``parent[key]`` if it is a list; raises RankTableError if it is missing or not one."""
    value, path = self._get(parent, key, parent_path)
    if not isinstance(value, list):
      raise self._error(path, "expected a JSON array, got {}".format(_describe(value)))
    return value

  def string(self, parent, key, parent_path):
    """``parent[key]`` if it is a str; raises RankTableError if it is missing or not one."""
    value, path = self._get(parent, key, parent_path)
    if not isinstance(value, str):
      raise self._error(path, "expected a string, got {}".format(_describe(value)))
    return value

  def integer(self, parent, key, parent_path):
    """``parent[key]``, a string of a non-negative integer, as int; raises RankTableError if it is missing, not
    such a string or has too many digits."""
    value, path = self._get(parent, key, parent_path)
    if not isinstance(value, str) or not _NON_NEGATIVE_INTEGER.fullmatch(value):
      raise self._error(path, "expected a string holding a non-negative integer (e.g. \"0\"), got {}".format(
          _describe(value)))
    if len(value.lstrip("0")) > _MAX_INTEGER_DIGITS:
      raise self._error(path, "integer {!r} is too large (at most {} digits)".format(value, _MAX_INTEGER_DIGITS))
    return int(value)

  def ipv4_address(self, parent, key, parent_path):
    """HCCL addresses are dotted-quad IPv4; IPv6 would also be ambiguous in horovodrun's ``host:slots``."""
    value = self.string(parent, key, parent_path)
    try:
      ipaddress.IPv4Address(value)
    except ValueError:
      raise self._error("{}.{}".format(parent_path, key),
                        "expected an IPv4 address such as \"192.168.0.1\", got {!r}".format(value)) from None
    return value


def _describe(value):
  if isinstance(value, str):
    return "the string {!r}".format(value)
  kinds = {bool: "a boolean", int: "a number", float: "a number", list: "an array", dict: "an object",
           type(None): "null"}
  shown = json.dumps(value) if isinstance(value, (bool, int, float, type(None))) else None
  kind = kinds.get(type(value), type(value).__name__)
  return "{} ({})".format(kind, shown) if shown is not None else kind
