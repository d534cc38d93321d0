#!/usr/bin/env bash
# One-command setup on a fresh machine: a virtual environment in .venv with the four
# deltamod packages installed editable plus the development tools, pinned by
# constraints.txt (torch CPU 2.13.0).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "setup: Python 3.11 is required, $PYTHON is $("$PYTHON" --version 2>&1)" >&2
    exit 1
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
    -c constraints.txt -r requirements-dev.txt \
    -e packages/delta-core -e packages/delta-nn -e packages/delta-hydro -e packages/delta-photosynth \
    -e examples/plugin-template
# Build the compiled HBV backend now (cached), so the first training does not wait for it;
# without a compiler the `cpp`/`auto` backends fall back to `reference` with one warning.
.venv/bin/python -c "from delta_hydro.hbv.kernels import build; print('setup: HBV kernel built in', build(verbose=False))" \
    || echo "setup: HBV kernel not built (see above); backend 'cpp' falls back to 'reference'" >&2
echo "setup: done. Activate with 'source .venv/bin/activate'; run tests with '.venv/bin/python -m pytest'."
