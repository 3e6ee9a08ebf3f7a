#!/usr/bin/env bash
# Prints the path of a Python that can `import dotenv` (python-dotenv from PyPI, pinned), installing it
# into a venv of its own first when it is not there. The export tests read podagent's .env output with it.
# Debian's python3 refuses a system-wide `pip install` (PEP 668), hence the venv; a pinned version keeps
# the verdicts the same from run to run.
# Usage: scripts/python-dotenv.sh            (exit 1, with the reason on stderr, when it cannot be had)
# Env:   PYTHON_DOTENV_VENV  where it is installed (default ~/.cache/podagent/python-dotenv-venv)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON_DOTENV_VERSION=1.2.2
VENV=${PYTHON_DOTENV_VENV:-${XDG_CACHE_HOME:-${HOME:-$PWD/.build}/.cache}/podagent/python-dotenv-venv}
installed() {
  "$VENV/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(m.version("python-dotenv") != sys.argv[1])' \
    "$PYTHON_DOTENV_VERSION" 2>/dev/null
}
if ! installed; then
  if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    scripts/install-deps.sh python3 python3-venv >&2
  fi
  echo "python-dotenv: installing python-dotenv==$PYTHON_DOTENV_VERSION into $VENV" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV" >&2
  if ! "$VENV/bin/pip" install --quiet --disable-pip-version-check "python-dotenv==$PYTHON_DOTENV_VERSION" >&2 || ! installed; then
    echo "python-dotenv: cannot install python-dotenv==$PYTHON_DOTENV_VERSION from PyPI" >&2
    rm -rf "$VENV"
    exit 1
  fi
fi
echo "$VENV/bin/python"
