#!/usr/bin/env bash
# Installs everything the toolkit needs and prints the path of the Python environment.
#
# System packages (apt): espeak-ng and sox build the offline corpus from the English sentences of
# Debian's fortunes collection; libsndfile reads FLAC/WAV.
# Python: a virtual environment OUTSIDE the clone, keyed by the hash of requirements.txt, so a fresh
# clone, CI and repeated runs reuse it while the requirements are unchanged.
#   JASPER_ENV_ROOT   where environments live (default: ~/.cache/jasper-toolkit)
#   JASPER_SKIP_APT=1 skip the apt step (packages already present, or no root)
#   JASPER_EXTRA_REQUIREMENTS  further requirement files (space-separated) installed after requirements.txt,
#                     part of the environment's key; packages built from source against the pinned
#                     TensorFlow (Horovod: HOROVOD_WITH_TENSORFLOW=1 HOROVOD_WITH_GLOO=1 in the environment)
#                     go there so they are built once per key.
# Usage: source "$(scripts/setup_env.sh)/bin/activate"   (all progress goes to stderr)
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
apt_packages=(espeak-ng sox libsox-fmt-all libsndfile1 flac fortunes)

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
req_hash="$( (cat "$repo_root/requirements.txt" "${extra_files[@]}"; "$python_bin" --version 2>&1) | sha256sum | cut -c1-16)"
env_root="${JASPER_ENV_ROOT:-$HOME/.cache/jasper-toolkit}"
venv="$env_root/venv-$req_hash"
if [ ! -f "$venv/.complete" ]; then
  echo "[setup] creating Python environment $venv" >&2
  rm -rf "$venv"
  mkdir -p "$env_root"
  "$python_bin" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip >&2
  "$venv/bin/python" -m pip install -q -r "$repo_root/requirements.txt" >&2
  for extra in "${extra_files[@]}"; do
    "$venv/bin/python" -m pip install -q --no-build-isolation -r "$extra" >&2
  done
  touch "$venv/.complete"
else
  echo "[setup] reusing Python environment $venv" >&2
fi
echo "$venv"
