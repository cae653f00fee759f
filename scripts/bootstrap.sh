#!/usr/bin/env bash
# Shared by scripts/test and scripts/demo: a project venv with the package installed.
# Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${QSAN_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.installed-$(cat pyproject.toml | sha1sum | cut -c1-12)-$1"
if [ ! -f "$stamp" ]; then
  echo "==> installing qsan-exporter ($1) into $VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  if [ "$1" = test ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[test]'
  else
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e .
  fi
  touch "$stamp"
fi
