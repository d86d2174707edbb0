#!/usr/bin/env python
"""How the word-LM decoding backends scale with the language model's size: for word 3-gram models of about
10^4 ... 10^7 n-grams (lmplz on generated Zipfian text, bench/zipf_text.py; the counts reported are the ARPA
header's), each converted with build_binary, every backend's load time, resident-memory increase and decoding
speed at beam width 128 on a fixed set of real logits, as ratios to the in-house backend on the same model.

    python bench/lm_scale.py --logits dev-clean_logits.npz --vocab open_seq2seq/test_utils/toy_speech_data/vocab.txt \\
        --manifest librivox-dev-clean.csv --words librispeech-lm-norm.txt /usr/share/dict/words

Backends (bench/lm_scale_probe.py, one fresh process per model and backend, so that sizes do not share memory):
in-house (ARPA reader + WordScorer + ctc_beam_search), pyctcdecode over KenLM's ARPA reader, pyctcdecode over
the KenLM binary. A process over --time_limit seconds or --memory_limit_gib of resident memory is killed and
its row says "did not finish". Real-time factor = decoding seconds / audio seconds, the audio seconds being the
logits' frames x the logits file's step_size (the mini config: 10 ms features x encoder stride 2 = 20 ms).
lmplz and build_binary come from setup_env.sh (.venv/bin), or --kenlm_bin. Generated files go to a temporary
directory under --work_dir, deleted at the end unless --keep; the table is written to --output .md and .json.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from bench.cpu_budget import wait_for_idle_cpu
from bench.lm_scale_probe import add_decoding_arguments
from bench.zipf_text import ranked_vocabulary, write_zipf_text
from open_seq2seq.data.speech2text.manifest import read_transcripts
from open_seq2seq.data.vocab import load_labels
from open_seq2seq.utils.metrics import corpus_wer

BACKENDS = {"in_house": "in-house", "pyctcdecode_arpa": "pyctcdecode, KenLM ARPA",
            "pyctcdecode_binary": "pyctcdecode, KenLM binary"}
BASELINE = "in_house"
MIN_UTILISATION = 0.9  # bench/cpu_budget.py's rule, for one thread
MIB = 1024.0 * 1024.0


def find_kenlm_tool(name, kenlm_bin=None):
  """Path of KenLM's ``name`` (lmplz, build_binary): in ``kenlm_bin``, beside this Python, or on PATH."""
  folders = [kenlm_bin] if kenlm_bin else [os.path.dirname(sys.executable)]
  for folder in folders:
    if os.access(os.path.join(folder, name), os.X_OK):
      return os.path.join(folder, name)
  found = None if kenlm_bin else shutil.which(name)
  if not found:
    raise FileNotFoundError("KenLM's {} not found in {} (scripts/setup_env.sh builds it into .venv/bin)".format(
        name, kenlm_bin or "this Python's bin/ or PATH"))
  return found


def arpa_header_counts(path):
  """``{order: count}`` of an ARPA file's ``\\data\\`` section."""
  counts = {}
  with open(path, encoding="utf-8") as handle:
    for line in handle:
      if line.startswith("ngram "):
        order, count = line[len("ngram "):].split("=")
        counts[int(order)] = int(count)
      elif line.startswith("\\1-grams:"):
        break
  return counts


def vocabulary_size(target, max_vocabulary):
  """Vocabulary of the generated text: one word per 50 n-grams, 1000 to ``max_vocabulary``."""
  return min(max_vocabulary, max(1000, target // 50))


def build_model(work, target, args, alphabet, progress=print):
  """Text, ARPA and KenLM binary of a model of about ``target`` n-grams; returns their facts."""
  stem = os.path.join(work, "lm-{:.0e}".format(target).replace("+", ""))
  vocabulary = ranked_vocabulary(vocabulary_size(target, args.max_vocabulary), args.words, alphabet)
  started = time.perf_counter()
  totals = write_zipf_text(stem + ".txt", target, vocabulary, order=args.order, seed=args.seed)
  generated = time.perf_counter()
  lmplz, build_binary = find_kenlm_tool("lmplz", args.kenlm_bin), find_kenlm_tool("build_binary", args.kenlm_bin)
  with open(stem + ".txt", "rb") as text, open(stem + ".arpa", "wb") as arpa:
    subprocess.run([lmplz, "-o", str(args.order), "--discount_fallback", "-S", args.lmplz_memory, "-T", work],
                   stdin=text, stdout=arpa, stderr=subprocess.DEVNULL, check=True, timeout=args.time_limit)
  estimated = time.perf_counter()
  subprocess.run([build_binary, stem + ".arpa", stem + ".binary"], stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL, check=True, timeout=args.time_limit)
  converted = time.perf_counter()
  counts = arpa_header_counts(stem + ".arpa")
  if counts != totals.per_order:
    progress("  note: the generator counted {}, lmplz's header says {}".format(totals.per_order, counts))
  model = {"target": target, "counts": counts, "words": totals.words, "vocabulary": len(vocabulary),
           "arpa": stem + ".arpa", "binary": stem + ".binary",
           "arpa_mib": os.path.getsize(stem + ".arpa") / MIB, "binary_mib": os.path.getsize(stem + ".binary") / MIB,
           "generate_s": generated - started, "lmplz_s": estimated - generated, "build_binary_s": converted - estimated}
  os.remove(stem + ".txt")
  return model


def _resident_kib(pid):
  try:
    with open("/proc/{}/status".format(pid)) as handle:
      for line in handle:
        if line.startswith("VmRSS:"):
          return int(line.split()[1])
  except OSError:
    pass
  return 0


def run_capped(command, time_limit_s, memory_limit_kib, poll_s=0.2):
  """Runs ``command``; returns (its stdout, None) or (None, why it was killed or failed)."""
  with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
    process = subprocess.Popen(command, stdout=out, stderr=err)
    started, failure = time.perf_counter(), None
    while process.poll() is None:
      elapsed = time.perf_counter() - started
      if elapsed > time_limit_s:
        failure = "did not finish (over {:.0f} s)".format(time_limit_s)
      elif _resident_kib(process.pid) > memory_limit_kib:
        failure = "did not finish (over {:.1f} GiB resident after {:.0f} s)".format(memory_limit_kib / MIB, elapsed)
      if failure:
        process.kill()
        process.wait()
        return None, failure
      time.sleep(poll_s)
    out.seek(0)
    err.seek(0)
    if process.returncode != 0:
      return None, "failed (exit {}): {}".format(process.returncode, err.read().decode(errors="replace")[-300:])
    return out.read().decode(), None


def probe(model, backend, args, memory_limit_kib):
  """One row: ``backend`` loading ``model`` and decoding, measured in a fresh process."""
  lm = model["binary"] if backend == "pyctcdecode_binary" else model["arpa"]
  command = [sys.executable, "-m", "bench.lm_scale_probe", "--backend", backend, "--lm", lm, "--logits", args.logits,
             "--vocab", args.vocab, "--utterances", str(args.utterances), "--passes", str(args.passes),
             "--beam_width", str(args.beam_width), "--alpha", str(args.alpha), "--beta", str(args.beta),
             "--unknown_word_offset", str(args.unknown_word_offset)]
  row = {"counts": model["counts"], "backend": backend,
         "file_mib": model["binary_mib"] if backend == "pyctcdecode_binary" else model["arpa_mib"]}
  output, failure = run_capped(command, args.time_limit, memory_limit_kib)
  if failure:
    return dict(row, failure=failure)
  return dict(row, **summarise(json.loads(output.strip().splitlines()[-1]), args.step_size))


def summarise(result, step_size=None):
  """Load seconds, RSS increase, utterances/s and real-time factor of a probe's JSON; decoding time is the
  median pass of those with >= 90 % of a core, else the fastest pass (``contended``)."""
  kept = sorted(p["seconds"] for p in result["passes"] if p["utilisation"] >= MIN_UTILISATION)
  contended = not kept
  seconds = kept[len(kept) // 2] if kept else min(p["seconds"] for p in result["passes"])
  audio_s = result["frames"] * (step_size or result["step_size"])
  return {"load_s": result["load_s"], "rss_mib": (result["rss_after_kib"] - result["rss_before_kib"]) / 1024.0,
          "utt_per_s": result["utterances"] / seconds, "rtf": seconds / audio_s, "contended": contended,
          "utilisation": max(p["utilisation"] for p in result["passes"]), "audio_s": audio_s,
          "wav_filenames": result["wav_filenames"], "transcripts": result["transcripts"]}


def add_ratios(rows):
  """Sets each row's load-time and decoding-speed ratios to the in-house row of the same model (None without
  one)."""
  baselines = {json.dumps(r["counts"], sort_keys=True): r for r in rows
               if r["backend"] == BASELINE and "failure" not in r}
  for row in rows:
    base = baselines.get(json.dumps(row["counts"], sort_keys=True))
    ok = base is not None and "failure" not in row
    row["load_ratio"] = row["load_s"] / base["load_s"] if ok else None
    row["speed_ratio"] = row["utt_per_s"] / base["utt_per_s"] if ok else None
  return rows


def _ratio(value):
  return "-" if value is None else "{:.2f}x".format(value)


def markdown_table(rows):
  """The Markdown table of ``rows`` (probe rows after add_ratios); a row with ``failure`` shows it instead of
  figures, a contended decoding figure is starred."""
  lines = ["| n-grams (total: 1/2/3-grams) | backend | model file (MiB) | load (s) | RSS increase (MiB) | "
           "utterances/s | real-time factor | WER (%) | load time vs in-house | decoding speed vs in-house |",
           "|---|---|---|---|---|---|---|---|---|---|"]
  for row in rows:
    counts = row["counts"]
    size = "{} ({})".format(sum(counts.values()), "/".join(str(counts[k]) for k in sorted(counts)))
    head = "| {} | {} | {:.1f} |".format(size, BACKENDS[row["backend"]], row["file_mib"])
    if "failure" in row:
      lines.append(head + " {} | | | | | | |".format(row["failure"]))
      continue
    star = "*" if row["contended"] else ""
    wer = "{:.2f}".format(100 * row["wer"]) if row.get("wer") is not None else "-"
    lines.append(head + " {:.2f} | {:.0f} | {:.2f}{} | {:.4f}{} | {} | {} | {} |".format(
        row["load_s"], row["rss_mib"], row["utt_per_s"], star, row["rtf"], star, wer, _ratio(row["load_ratio"]),
        _ratio(row["speed_ratio"])))
  return "\n".join(lines) + "\n"


def parse_args(argv):
  """The bench's command line."""
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--logits", required=True, help="logits .npz of run.py --mode=infer (infer_logits_to_pickle)")
  parser.add_argument("--vocab", required=True, help="character vocabulary of the model")
  parser.add_argument("--manifest", help="manifest CSV with the utterances' transcripts: adds a WER column")
  parser.add_argument("--words", nargs="*", default=[],
                      help="text or word lists whose words, by frequency, are the generated text's likeliest words "
                           "(synthetic words fill the rest)")
  parser.add_argument("--sizes", default="1e4,1e5,1e6,1e7", help="target n-gram totals, comma-separated")
  parser.add_argument("--order", type=int, default=3)
  parser.add_argument("--max_vocabulary", type=int, default=200000)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--backends", default=",".join(BACKENDS))
  add_decoding_arguments(parser)
  parser.add_argument("--step_size", type=float, help="seconds per logit frame (default: the logits file's)")
  parser.add_argument("--time_limit", type=float, default=600.0, help="seconds per load-and-decode process")
  parser.add_argument("--memory_limit_gib", type=float, default=16.0,
                      help="resident memory per process (lowered to what the machine has free, less 3 GiB)")
  parser.add_argument("--lmplz_memory", default="2G", help="lmplz -S")
  parser.add_argument("--idle_timeout", type=float, default=120.0, help="seconds to wait for an idle CPU first")
  parser.add_argument("--kenlm_bin", help="folder holding lmplz and build_binary (default: this Python's bin/)")
  parser.add_argument("--work_dir", help="where the generated files go (default: the system's temp folder)")
  parser.add_argument("--keep", action="store_true", help="keep the generated files")
  parser.add_argument("--output", default="results/bench/lm_scale", help="writes OUTPUT.md and OUTPUT.json")
  args = parser.parse_args(argv)
  args.sizes = [int(float(size)) for size in args.sizes.split(",")]
  args.backends = args.backends.split(",")
  unknown = sorted(set(args.backends) - set(BACKENDS))
  if unknown:
    parser.error("unknown backends {}; choose from {}".format(unknown, ", ".join(BACKENDS)))
  return args


def memory_limit_kib(limit_gib):
  """``limit_gib`` in KiB, at most the machine's available memory less 3 GiB (other jobs keep theirs)."""
  with open("/proc/meminfo") as handle:
    available = next(int(line.split()[1]) for line in handle if line.startswith("MemAvailable:"))
  return int(min(limit_gib * MIB, available - 3 * MIB))


def add_wer(rows, manifest):
  """Sets each decoded row's ``wer`` against the transcripts of ``manifest``."""
  references = read_transcripts(manifest)
  for row in rows:
    if "failure" not in row:
      row["wer"] = corpus_wer([references[name] for name in row["wav_filenames"]], row["transcripts"], manifest)


def write_outputs(prefix, table, rows, models, header):
  """Writes PREFIX.md (header and table) and PREFIX.json (rows without transcripts, and the models)."""
  os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
  with open(prefix + ".md", "w", encoding="utf-8") as handle:
    handle.write(header + "\n\n" + table)
  slim = [{k: v for k, v in row.items() if k not in ("wav_filenames", "transcripts")} for row in rows]
  with open(prefix + ".json", "w", encoding="utf-8") as handle:
    json.dump({"rows": slim, "models": models}, handle, indent=1)


def main(argv=None):
  """Builds the models, measures every backend on each, prints and writes the table; returns 0."""
  args = parse_args(argv)
  alphabet = set(load_labels(args.vocab)) - {" "}
  memory_kib = memory_limit_kib(args.memory_limit_gib)
  for tool in ("lmplz", "build_binary"):
    find_kenlm_tool(tool, args.kenlm_bin)
  work = tempfile.mkdtemp(prefix="lm_scale_", dir=args.work_dir)
  rows, models = [], []
  try:
    other_load = wait_for_idle_cpu(timeout_s=args.idle_timeout)
    print("other CPU load before start: {:.0%}; per process: {:.0f} s, {:.1f} GiB; files in {}".format(
        other_load, args.time_limit, memory_kib / MIB, work), flush=True)
    for target in args.sizes:
      print("== model of about {} n-grams".format(target), flush=True)
      model = build_model(work, target, args, alphabet)
      models.append({k: v for k, v in model.items() if k not in ("arpa", "binary")})
      print("  n-grams {}, {} words of text, vocabulary {}; generate {:.1f} s, lmplz {:.1f} s, build_binary {:.1f} s; "
            "ARPA {:.1f} MiB, binary {:.1f} MiB".format(
                model["counts"], model["words"], model["vocabulary"], model["generate_s"], model["lmplz_s"],
                model["build_binary_s"], model["arpa_mib"], model["binary_mib"]), flush=True)
      for backend in args.backends:
        row = probe(model, backend, args, memory_kib)
        rows.append(row)
        print("  {}: {}".format(BACKENDS[backend], row["failure"] if "failure" in row else
                                "load {:.2f} s, RSS +{:.0f} MiB, {:.2f} utterances/s, RTF {:.4f}{}".format(
                                    row["load_s"], row["rss_mib"], row["utt_per_s"], row["rtf"],
                                    " (contended)" if row["contended"] else "")), flush=True)
  finally:
    if args.keep:
      print("generated files kept in {}".format(work))
    else:
      shutil.rmtree(work, ignore_errors=True)
  if args.manifest:
    add_wer(rows, args.manifest)
  table = markdown_table(add_ratios(rows))
  decoded = next((row for row in rows if "failure" not in row), None)
  header = ("{} utterances of {} ({:.1f} s of audio), beam width {}, alpha {:g}, beta {:g}, unknown-word offset "
            "{:g}; ratios to the in-house backend on the same model; * = no decoding pass had >= 90 % of a core "
            "(the fastest pass shown)".format(args.utterances, args.logits, decoded["audio_s"] if decoded else 0,
                                              args.beam_width, args.alpha, args.beta, args.unknown_word_offset))
  print("\n" + header + "\n\n" + table)
  write_outputs(args.output, table, rows, models, header)
  print("written: {0}.md, {0}.json".format(args.output))
  return 0


if __name__ == "__main__":
  sys.exit(main())
