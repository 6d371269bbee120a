#!/usr/bin/env bash
# The hostile chart suite as a normal user (uid 65534), in CI after the root run.
#
# uid 65534 can reach neither the project's .venv (its interpreter may live under /root, e.g. a
# pyenv) nor, possibly, the clone itself (CI clones under a root-only folder). So: a small venv
# from Debian's /usr/bin/python3 with just what the suite needs, and a copy of the code it tests,
# both in a world-readable temp folder; then setpriv drops to 65534 with no groups.
# uid 65534 owns that venv, as a desktop user owns the one setup.sh makes: a chart that could
# reach the real files of the install (an inherited descriptor) could then change them, and
# tests/sandbox checks that it cannot.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
if [ ! -x "$PY" ]; then
  echo "hostile-as-nobody: $PY is missing (Debian's python3); cannot run the normal-user suite" >&2
  exit 1
fi
WORK=${NOBODY_WORK:-/tmp/llmi-hostile-nobody}
mkdir -p "$WORK"
chmod 755 "$WORK"
if [ ! -x "$WORK/venv/bin/python" ] || ! cmp -s .ci/requirements-sandbox.txt "$WORK/requirements.txt"; then
  rm -rf "$WORK/venv"
  "$PY" -m venv "$WORK/venv"
  "$WORK/venv/bin/python" -m pip install --quiet --disable-pip-version-check -r .ci/requirements-sandbox.txt
  cp .ci/requirements-sandbox.txt "$WORK/requirements.txt"
fi
rm -rf "$WORK/src"
mkdir -p "$WORK/src/tests"
cp -r tools models "$WORK/src/"
cp -r tests/sandbox "$WORK/src/tests/"
cp tests/__init__.py "$WORK/src/tests/"
printf '[pytest]\naddopts = -q -p no:cacheprovider\nfilterwarnings = ignore\n' > "$WORK/src/pytest.ini"
find "$WORK/src" -name __pycache__ -prune -exec rm -rf {} +
chmod -R a+rX "$WORK"
chown -R 65534:65534 "$WORK/venv"
mkdir -p "$WORK/home"
chown 65534:65534 "$WORK/home"
cd "$WORK/src"
exec setpriv --reuid=65534 --regid=65534 --clear-groups \
  env -i PATH=/usr/bin:/bin HOME="$WORK/home" LANG=C.UTF-8 PYTHONPATH="$WORK/src" PYTHONDONTWRITEBYTECODE=1 \
  "$WORK/venv/bin/python" -m pytest tests/sandbox
