#!/usr/bin/env bash
# Installs everything (same installer as the main job) and runs the test suite.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
venv="$(bash scripts/setup_env.sh)"
exec "$venv/bin/python" -m pytest -q "$@"
