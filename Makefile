# NitroGen Capture: the two commands a newcomer runs are `make demo` and `make test`.
# Both set everything up on a fresh Debian machine (system packages as root, a .venv, the package
# with its extras, the CPU build of torch) and are safe to re-run.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
# CPU build pinned: a bare `torch` requirement would pull a multi-GB CUDA build.
TORCH  ?= torch==2.13.0
APT_PACKAGES := xvfb x11-utils xdotool xauth chromium pulseaudio pulseaudio-utils
# The Wayland tier's headless desktop (scripts/wayland/wlstack.py): sway with XWayland, PipeWire,
# the ScreenCast portal, wayvnc; GStreamer's pipewiresrc; gcc for the portal shim; the headers
# the `wayland` extra's PyGObject builds against.
WAYLAND_APT_PACKAGES := sway xwayland pipewire pipewire-bin wireplumber xdg-desktop-portal \
  xdg-desktop-portal-wlr gstreamer1.0-pipewire gir1.2-gstreamer-1.0 gstreamer1.0-plugins-base \
  wayvnc x11-xserver-utils libgirepository1.0-dev libcairo2-dev dbus pkg-config gcc libc6-dev \
  python3-dev
# portal-wlr 0.7's screencopy shim (scripts/wayland/screencopy_shim.c), built, never committed.
WAYLAND_SHIM := .cache/wayland/screencopy-shim.so
DEMO_OUT ?= runs/demo-$(shell date +%Y%m%d-%H%M%S)
# After a successful `make demo`, older runs/demo-* beyond the newest DEMO_KEEP are removed.
DEMO_KEEP ?= 3

.PHONY: all setup system-deps venv lint typecheck test test-fast test-windows test-lerobot wine-tier demo demo-prune loop-demo bench clean wayland-deps wayland-shim test-wayland

all: test

# $(call apt-install,PACKAGES): install those not there yet (as root: apt-get update first; else
# through sudo; else one line naming them).
define apt-install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  elif command -v sudo >/dev/null 2>&1; then \
	    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages:$$missing (install them as root)"; exit 1; \
	  fi; \
	fi
endef

# Debian packages for the virtual display (and chromium: the report's headless-browser test;
# pulseaudio: the audio tests and `make demo` start a private server with a null sink).
# Skipped when already there; needs root otherwise.
system-deps:
	$(call apt-install,$(APT_PACKAGES))

# The Wayland tier's packages (the stack runs as root: sway itself as uid 65534 through setpriv).
wayland-deps:
	$(call apt-install,$(WAYLAND_APT_PACKAGES))

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH)"
	$(PIP) install -q -e ".[test,torch,video,dataset,demo,gamepad,x11,report,play,audio]"
	touch $@

venv: $(VENV)/.installed

# The `wayland` extra (PyGObject builds from source against libgirepository1.0-dev, ~20 s once).
$(VENV)/.installed-wayland: $(VENV)/.installed pyproject.toml
	$(PIP) install -q -e ".[wayland]"
	touch $@

$(WAYLAND_SHIM): scripts/wayland/screencopy_shim.c
	@mkdir -p $(dir $@)
	gcc -shared -fPIC -O2 -Wall -o $@ $< -ldl -lpthread

wayland-shim: $(WAYLAND_SHIM)

setup: system-deps venv

# The two mypy runs (Linux, Windows) side by side, one per core, each with a cache of its own: a
# shared one was invalidated by every switch of platform, so each run started cold. The Windows
# run's output is shown after the Linux one's; lint fails when either fails.
lint: venv
	$(VENV)/bin/ruff check src tests tests_wine bench scripts examples *.py
	@echo "$(VENV)/bin/mypy & $(VENV)/bin/mypy --platform win32"; mkdir -p .mypy_cache; \
	$(VENV)/bin/mypy --platform win32 --cache-dir .mypy_cache/win32 >.mypy_cache/win32.out 2>&1 & \
	win=$$!; $(VENV)/bin/mypy; linux=$$?; wait $$win; windows=$$?; cat .mypy_cache/win32.out; \
	test $$linux -eq 0 -a $$windows -eq 0

typecheck: lint

# One pytest run per tier (docs/architecture.md, "Testing"), each announced, with pytest's
# per-file progress lines. A tier is a marker, not a folder: tests/<area>/ groups the files by the
# package they test (tests/README.md), and each run collects all of tests/ (pyproject.toml). A passing test's tmp_path is removed when it ends and a passing run's
# whole temporary folder at the end (tmp_path_retention_policy, pyproject.toml): only what a
# failure left is kept, for a look, in pytest's folder under /tmp.
TEST_ENV := SDL_AUDIODRIVER=dummy PYGAME_HIDE_SUPPORT_PROMPT=1
# The `wayland` extra and its packages too: tier 0 runs the portal backend against a fake portal
# on a real dbus-daemon with GStreamer, and the evdev backend on fake devices (no skips in CI).
test: setup wayland-deps $(VENV)/.installed-wayland lint
	@echo "== tier 0: no display (unit, synthetic recordings, export, CLI) =="
	$(TEST_ENV) $(VENV)/bin/pytest -m "not x11 and not wayland"
	@echo "== tier 1: X11 (a private Xvfb, the demo game, XTEST input) =="
	$(TEST_ENV) $(VENV)/bin/pytest -m x11

test-fast: venv
	$(VENV)/bin/pytest -q -m "not x11 and not slow and not wayland"

# The Wayland tier (docs/testing.md): a headless sway desktop with XWayland, PipeWire, the
# ScreenCast portal and wayvnc (scripts/wayland/wlstack.py, started and stopped by the tests),
# the demo game recorded through the portal. Root, like the packages it installs.
test-wayland: setup wayland-deps $(VENV)/.installed-wayland $(WAYLAND_SHIM)
	@echo "== Wayland tier: headless sway, the ScreenCast portal, PipeWire, XWayland, wayvnc =="
	$(TEST_ENV) $(VENV)/bin/pytest -m wayland

# LeRobot itself loads a `convert --format lerobot` export and trains its ACT and Diffusion
# policies on it for a few steps on the CPU (docs/export.md, "LeRobot"). LeRobot pins its own
# torch, so it gets its own environment with its `training` and `diffusion` extras,
# .cache/lerobot-venv (ignored by git): built once per machine, about 6 GB of downloads the first
# time. Not part of `make test`.
test-lerobot: venv
	PY=$(PY) bash scripts/lerobot_test.sh

# The Windows tier (docs/windows.md): Debian's Wine, the official Windows CPython and the Windows
# wheels in .wine-tier/ (built once, ignored by git), then the tests_wine/ suite under Xvfb.
wine-tier: setup
	bash scripts/wine_setup.sh

test-windows: wine-tier
	SDL_AUDIODRIVER=dummy PYGAME_HIDE_SUPPORT_PROMPT=1 $(VENV)/bin/pytest -q -p no:cacheprovider tests_wine

demo: setup
	SDL_AUDIODRIVER=dummy PYGAME_HIDE_SUPPORT_PROMPT=1 $(VENV)/bin/nitrogen-capture demo --out $(DEMO_OUT)
	@$(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) demo-prune

# The run names sort by their timestamp: keep the newest DEMO_KEEP runs (the session folder and
# its NitroGen export runs/demo-*.pt), remove the rest.
demo-prune:
	@old=$$(ls -1d runs/demo-* 2>/dev/null | sed 's/\.pt$$//' | sort -ru | tail -n +$$(($(DEMO_KEEP) + 1))); \
	for run in $$old; do rm -rf "$$run" "$$run.pt"; done; \
	if [ -d runs ]; then \
	  echo "kept the $(DEMO_KEEP) newest demo runs in runs/; remove runs/ to free $$(du -sm runs | cut -f1) MB"; \
	fi

# The whole loop (examples/loop_demo.py): record the demo game's scripted player on its chase task,
# convert, train a tiny behaviour-cloning net on the CPU, then compare it with random and scripted
# play from the game's own counters (~6 min; the table and LOOP_OUT/loop.json).
LOOP_OUT ?= runs/loop-$(shell date +%Y%m%d-%H%M%S)
loop-demo: setup
	SDL_AUDIODRIVER=dummy PYGAME_HIDE_SUPPORT_PROMPT=1 $(PY) examples/loop_demo.py --out $(LOOP_OUT)

# Micro-benchmarks (JSON), then sustained recordings of the demo game against the original loop
# (~8 min: JSON in bench/results/latest.json, the table into bench/README.md).
bench: setup
	$(PY) bench/run.py
	$(PY) bench/convert.py
	$(PY) bench/convert_batch.py
	$(PY) bench/stream.py
	SDL_AUDIODRIVER=dummy PYGAME_HIDE_SUPPORT_PROMPT=1 $(PY) bench/record.py --readme bench/README.md

clean:
	rm -rf $(VENV) .wine-tier .mypy_cache .pytest_cache .ruff_cache build src/*.egg-info
