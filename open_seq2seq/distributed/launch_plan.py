"""The launch plan of scripts/run_8p.sh, read from a rank table: one tab-separated record a line.

    world_size <N>
    backend <npu|gpu|cpu>
    hosts <host:slots,...>                                   (CPU/GPU: one horovodrun command starts every rank)
    rank <rank> <device_id> <VAR=value> <VAR=value> ...      (Ascend: one per rank of this server)

Usage: ``python -m open_seq2seq.distributed.launch_plan RANK_TABLE SERVER_ID JOB_ID`` (SERVER_ID may be empty).
Errors are one line on stderr naming the bad field, with exit code 2.
"""
import socket
import sys

from open_seq2seq.distributed.backend import select_backend
from open_seq2seq.distributed.npu import environment_for_rank
from open_seq2seq.distributed.rank_table import RankTableError, horovodrun_hosts, load_rank_table


def is_local(address):
  """Whether ``address`` belongs to one of this machine's interfaces (loopback included): only those bind."""
  try:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
      probe.bind((address, 0))
    return True
  except OSError:
    return False


def this_server(servers, server_id):
  """Which of the table's ``servers`` (ids, i.e. addresses) this machine is: ``server_id`` when given, the only
  server of a one-server table, else the one server with a local address. Raises ValueError otherwise."""
  if server_id:
    if server_id not in servers:
      raise ValueError("--server_id={} is not in the table (servers: {})".format(server_id, ", ".join(servers)))
    return server_id
  if len(servers) == 1:
    return servers[0]
  local = [server for server in servers if is_local(server)]
  if len(local) != 1:
    raise ValueError("cannot tell which of the table's servers ({}) this machine is ({} of them have a local "
                     "address); pass --server_id".format(", ".join(servers), len(local)))
  return local[0]


def launch_plan(path, server_id, job_id):
  """The plan's records (lists of fields) for the rank table at ``path``."""
  table = load_rank_table(path)
  backend = select_backend()
  records = [["world_size", str(table.world_size)], ["backend", backend]]
  if backend != "npu":
    return records + [["hosts", horovodrun_hosts(table)]]
  server_id = this_server([server.server_id for server in table.servers], server_id)
  for rank in range(table.world_size):
    location = table.location_of(rank)
    if location.server_id == server_id:
      environment = environment_for_rank(table, rank, job_id)
      records.append(["rank", str(rank), str(location.device_id)] +
                     ["{}={}".format(name, value) for name, value in sorted(environment.items())])
  return records


def main(argv=None):
  """Command line ``RANK_TABLE SERVER_ID JOB_ID``: prints the launch plan's records tab-separated, one a line;
  returns 0, or 2 after writing a usage error, RankTableError or ValueError to stderr."""
  argv = sys.argv[1:] if argv is None else argv
  if len(argv) != 3:
    sys.stderr.write("usage: python -m open_seq2seq.distributed.launch_plan RANK_TABLE SERVER_ID JOB_ID\n")
    return 2
  try:
    records = launch_plan(*argv)
  except (RankTableError, ValueError) as error:
    sys.stderr.write("run_8p.sh: {}\n".format(error))
    return 2
  for record in records:
    print("\t".join(record))
  return 0


if __name__ == "__main__":
  sys.exit(main())
