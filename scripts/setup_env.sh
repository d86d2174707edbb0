#!/usr/bin/env bash
# Installs everything the toolkit needs and prints the path of the Python environment.
#
# System packages (apt): espeak-ng and sox build the offline corpus from the English sentences of
# Debian's fortunes collection; wamerican's word list (/usr/share/dict/words) widens the decoding LM's
# vocabulary; libsndfile reads FLAC/WAV; cmake, g++, make and the Python headers build
# Horovod; Boost (program_options, system, thread, test: KenLM's CMake build asks for all four) builds KenLM's
# command-line tools; zlib, bzip2 and xz headers give KenLM (its tools and the kenlm Python module, which only
# enables a compression its build finds) .arpa.gz/.bz2/.xz reading.
# Python: a virtual environment OUTSIDE the clone, keyed by the hash of requirements.txt,
# requirements-horovod.txt, the extra requirement files, the Horovod build flags and the Python version, so a
# fresh clone, CI and repeated runs reuse it while those are unchanged.
# Horovod (requirements-horovod.txt) is always built, from source against the pinned TensorFlow, right after
# requirements.txt. Its HOROVOD_* build flags default to a CPU build with Gloo and may be overridden from the
# environment (docs/distributed.md: HOROVOD_GPU_OPERATIONS=NCCL for GPU clusters); the build log is kept in
# the environment as horovod-build.log.
#   JASPER_ENV_ROOT   where environments live (default: ~/.cache/jasper-toolkit)
#   JASPER_SKIP_APT=1 skip the apt step (packages already present, or no root)
#   JASPER_EXTRA_REQUIREMENTS  further requirement files (space-separated) installed after requirements.txt,
#                     part of the environment's key, installed with --no-build-isolation so packages
#                     built from source see the pinned TensorFlow.
#   JASPER_SKIP_KENLM_TOOLS=1  do not build KenLM's lmplz and build_binary (below)
#   JASPER_KENLM_SDIST  a kenlm-VERSION.tar.gz to build them from instead of downloading it with pip
# The toolkit is then installed editable into <clone>/.venv, layered over that shared environment (below).
# Usage: source "$(scripts/setup_env.sh)/bin/activate"   (all progress goes to stderr)
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
apt_packages=(espeak-ng sox libsox-fmt-all libsndfile1 flac fortunes wamerican cmake g++ make python3-dev
              libboost-program-options-dev libboost-system-dev libboost-thread-dev libboost-test-dev
              zlib1g-dev libbz2-dev liblzma-dev)

missing_apt=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing_apt+=("$pkg")
done
if [ "${#missing_apt[@]}" -gt 0 ] && [ "${JASPER_SKIP_APT:-0}" != "1" ]; then
  echo "[setup] apt-get install ${missing_apt[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing_apt[@]}" >&2
fi

python_bin="${JASPER_PYTHON:-python3}"
extra_files=()
for extra in ${JASPER_EXTRA_REQUIREMENTS:-}; do
  [ -f "$extra" ] || { echo "[setup] JASPER_EXTRA_REQUIREMENTS: no such file: $extra" >&2; exit 1; }
  extra_files+=("$extra")
done
# A CPU-only Gloo build by default; each flag can be overridden (an NCCL build is a different environment).
export HOROVOD_WITH_TENSORFLOW="${HOROVOD_WITH_TENSORFLOW:-1}"
export HOROVOD_WITH_GLOO="${HOROVOD_WITH_GLOO:-1}"
export HOROVOD_WITHOUT_MPI="${HOROVOD_WITHOUT_MPI:-1}"
export HOROVOD_WITHOUT_PYTORCH="${HOROVOD_WITHOUT_PYTORCH:-1}"
export HOROVOD_WITHOUT_MXNET="${HOROVOD_WITHOUT_MXNET:-1}"
# Horovod's setup.py compiles with -j8 unless MAKEFLAGS is set; more jobs than cores only costs memory.
export MAKEFLAGS="${MAKEFLAGS:--j$(nproc)}"
# Only build-time variables enter the key: runtime ones (HOROVOD_TIMELINE, ...) must not fork environments.
horovod_flags="$(env | grep -E '^HOROVOD_(WITH|GPU|NCCL|CUDA|ROCM|BUILD|DEBUG|CMAKE|NVTX|ALLOW_MIXED_GPU_IMPL)' | sort)"
req_hash="$( (cat "$repo_root/requirements.txt" "$repo_root/requirements-horovod.txt" "${extra_files[@]}"
              echo "$horovod_flags"; "$python_bin" --version 2>&1) | sha256sum | cut -c1-16)"
env_root="${JASPER_ENV_ROOT:-$HOME/.cache/jasper-toolkit}"
venv="$env_root/venv-$req_hash"
# Two setups of one environment at once (a main job and CI started together after a requirements change) would
# delete and fill the same folder in turns: the later one waits for the earlier, then reuses what it built.
# The kernel drops the lock when its holder exits, however it exits. A read-only environment root (a finished
# environment shared by others) is used without the lock.
mkdir -p "$env_root"
command -v flock >/dev/null || { echo "[setup] needs flock (util-linux)" >&2; exit 1; }
venv_lock=""
if { exec {venv_lock}>>"$venv.lock"; } 2>/dev/null; then
  if ! flock -n "$venv_lock"; then
    echo "[setup] waiting for another setup that holds $venv.lock" >&2
    flock "$venv_lock"
  fi
elif [ ! -f "$venv/.complete" ]; then
  echo "[setup] cannot create $venv.lock: is $env_root writable?" >&2
  exit 1
fi
if [ ! -f "$venv/.complete" ]; then
  echo "[setup] creating Python environment $venv" >&2
  rm -rf "$venv"
  "$python_bin" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip >&2
  "$venv/bin/python" -m pip install -q -r "$repo_root/requirements.txt" >&2
  echo "[setup] building Horovod ($(echo $horovod_flags)); log: $venv/horovod-build.log" >&2
  # --no-cache-dir: pip's wheel cache ignores the HOROVOD_* flags and would hand an NCCL environment the
  # CPU build (or the reverse).
  if ! "$venv/bin/python" -m pip install -v --no-cache-dir --no-build-isolation \
      -r "$repo_root/requirements-horovod.txt" >"$venv/horovod-build.log" 2>&1; then
    tail -n 60 "$venv/horovod-build.log" >&2
    echo "[setup] Horovod build failed; full log: $venv/horovod-build.log" >&2
    exit 1
  fi
  for extra in "${extra_files[@]}"; do
    "$venv/bin/python" -m pip install -q --no-build-isolation -r "$extra" >&2
  done
  touch "$venv/.complete"
else
  echo "[setup] reusing Python environment $venv" >&2
fi
if [ -n "$venv_lock" ]; then exec {venv_lock}>&-; fi

# The toolkit itself is installed editable (`pip install -e .`: the open_seq2seq package and its console
# scripts) into a small environment inside this clone, layered over the shared one: two clones sharing the
# shared environment would otherwise each point its editable install at themselves.
clone_env="$repo_root/.venv"
# Two setups in this clone at once would delete and fill it in turns too: the same kind of lock.
exec {clone_lock}>>"$clone_env.lock"
flock "$clone_lock"
stamp="$venv $repo_root $(sha256sum "$repo_root/pyproject.toml" | cut -c1-16)"
if [ "$(cat "$clone_env/.jasper-stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "[setup] installing the toolkit (editable) into $clone_env" >&2
  rm -rf "$clone_env"
  "$venv/bin/python" -m venv --without-pip "$clone_env"
  site_dir() { "$1/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }
  # addsitedir, not a bare path: the shared environment's own .pth files must be processed too.
  echo "import site; site.addsitedir('$(site_dir "$venv")')" >"$(site_dir "$clone_env")/_jasper_shared_env.pth"
  if ! "$clone_env/bin/python" -m pip install --no-deps --no-build-isolation -e "$repo_root" \
      >"$clone_env/install.log" 2>&1; then
    tail -n 30 "$clone_env/install.log" >&2
    echo "[setup] pip install -e $repo_root failed; full log: $clone_env/install.log" >&2
    exit 1
  fi
  # horovodrun of the shared environment would start the ranks without this clone's install.
  # The __main__ guard matters: horovodrun's helpers start processes by spawn, which re-imports this file.
  printf '#!%s\nimport sys\nfrom horovod.runner.launch import run_commandline\nif __name__ == "__main__":\n  sys.exit(run_commandline())\n' \
    "$clone_env/bin/python" >"$clone_env/bin/horovodrun"
  chmod +x "$clone_env/bin/horovodrun"
  echo "$stamp" >"$clone_env/.jasper-stamp"
fi
exec {clone_lock}>&-

# KenLM's lmplz (estimates an ARPA model from text) and build_binary (ARPA -> KenLM binary), which Debian does not
# package: built from the PyPI sdist of the kenlm version requirements.txt pins (it holds KenLM's whole C++
# source), only these two targets, once per machine into $env_root/kenlm-tools-VERSION, and copied into the
# clone environment's bin/ (`.venv/bin/lmplz`). 80-90 s of CPU time (2.3-3.2 min on 2 cores shared with a
# training run).
kenlm_tools_ok() {  # both tools present and every shared library they link found (Boost upgraded?)
  local tool
  for tool in lmplz build_binary; do
    [ -x "$1/$tool" ] || return 1
    case "$(ldd "$1/$tool" 2>&1)" in *"not found"*) return 1 ;; esac
  done
}
install_kenlm_tools() {
  local version tools_dir build_dir log sdist
  version="$(sed -n 's/^kenlm==\([0-9][0-9.]*\).*/\1/p' "$repo_root/requirements.txt" | head -n 1)"
  version="${version:-0.3.0}"
  tools_dir="$env_root/kenlm-tools-$version"
  if ! kenlm_tools_ok "$tools_dir"; then
    log="$env_root/kenlm-tools-$version-build.log"
    echo "[setup] building KenLM $version lmplz and build_binary (a minute or two); log: $log" >&2
    build_dir="$(mktemp -d "$env_root/kenlm-build.XXXXXX")"
    trap "rm -rf '$build_dir'" EXIT  # expanded now: build_dir is local to this function
    sdist="${JASPER_KENLM_SDIST:-}"
    if ! {
      if [ -z "$sdist" ]; then
        # --no-build-isolation: pip reads the sdist's metadata with this environment's setuptools; isolated,
        # it would first build the sdist's build requirements (CMake itself) from source under :all:.
        "$venv/bin/python" -m pip download -q --no-deps --no-binary :all: --no-build-isolation "kenlm==$version" \
          -d "$build_dir" &&
          sdist="$build_dir/kenlm-$version.tar.gz"
      fi &&
        tar -xzf "$sdist" -C "$build_dir" &&
        cmake -S "$build_dir/kenlm-$version" -B "$build_dir/build" -DCMAKE_BUILD_TYPE=Release &&
        cmake --build "$build_dir/build" --target lmplz build_binary -j 2 &&
        mkdir -p "$build_dir/bin" &&
        install -m 755 "$build_dir/build/bin/lmplz" "$build_dir/build/bin/build_binary" "$build_dir/bin/"
    } >"$log" 2>&1; then
      tail -n 30 "$log" >&2
      echo "[setup] building KenLM's lmplz/build_binary failed (it needs cmake, g++ and the Boost, zlib, bzip2" \
        "and xz -dev packages of the apt list above); full log: $log; JASPER_SKIP_KENLM_TOOLS=1 skips them" >&2
      exit 1
    fi
    # Renamed into place whole, so a concurrent setup of another clone never sees half a directory.
    rm -rf "$tools_dir"
    mv "$build_dir/bin" "$tools_dir" 2>/dev/null || kenlm_tools_ok "$tools_dir"
    rm -rf "$build_dir"
    trap - EXIT
  fi
  cp "$tools_dir/lmplz" "$tools_dir/build_binary" "$clone_env/bin/"
}
if [ "${JASPER_SKIP_KENLM_TOOLS:-0}" != "1" ] && ! kenlm_tools_ok "$clone_env/bin"; then
  install_kenlm_tools
fi
echo "$clone_env"
