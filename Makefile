# make demo  – set up, build, trained NanoDet + tracker + trained EfficientPose on real video →
#              out/demo.mp4 (prints fps and latency)
# make test  – set up, lint (fmt, clippy -D warnings), then every test under G_DEBUG=fatal_warnings
#              (.ci/run calls this), then the install tests (make install, the Debian package)
# make install [PREFIX=/usr/local] [DESTDIR=] – plugin into GStreamer's plugin folder, `sapiens` into
#              bin/, configs + models into share/sapiens-stream, ONNX Runtime into lib/sapiens-stream
# make uninstall – removes exactly what make install put there (same variables)
# make soak  – opt-in: an hour of a loopback camera through sapiens run (a viewer joins each minute), RSS each minute (out/soak.csv)
# make bench-serve – N cameras (1, 2, 4) in one `sapiens serve` vs N `sapiens run` processes, side by side (out/bench-serve.json)
# make deb   – target/debian/sapiens-stream_<version>_<arch>.deb (cargo-deb) of the same files
CARGO ?= cargo
FRAMES ?= 200
# The demo's pose head: EfficientPose (trained, MPII-16); DEMO_CONFIG=configs/pose-tiny-goliath308.toml
# runs the Sapiens architecture instead (untrained: its skeletons are noise, and say so).
DEMO_CONFIG ?= configs/pose-efficientpose-mpii16.toml

.PHONY: setup build demo lint test models bench bench-triton bench-serve soak clean-cache install-build install uninstall deb test-install test-export real-size-models

setup:
	@scripts/setup.sh

build: setup
	$(CARGO) build --release --workspace

demo: build
	./target/release/sapiens run --input data/vtest.avi \
	  --detector nanodet --detect-interval 3 --track --smoothing \
	  --config $(DEMO_CONFIG) \
	  --output out/demo.mp4 --max-frames $(FRAMES) --stats-json out/demo-stats.json
	@echo "Plugin for gst-launch-1.0: export GST_PLUGIN_PATH=$(CURDIR)/target/release"

lint: setup
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# A GLib warning or critical (invalid caps, a refused property value) aborts the test that caused it.
test: lint
	scripts/setup-triton.sh
	$(CARGO) build --workspace
	G_DEBUG=fatal_warnings $(CARGO) test --workspace -- --test-threads 2
	.venv/bin/python scripts/gen_test_models.py --check
	@echo "make test: skipped the export tests (torch and Transformers, several GB): run make test-export"

models: setup
	.venv/bin/python scripts/gen_test_models.py

# Soak (opt-in, an hour by default): a loopback RTSP camera through `sapiens run`, RSS every
# INTERVAL s in out/soak.csv (DURATION=, INTERVAL=, CONFIG=, CLIENTS=0 for no viewer)
soak: build
	scripts/soak.sh

# N cameras of vtest.avi in one service vs N processes (CAMERAS=1,2,4 WINDOW=30; FLAGS= the
# run flags of every camera, default the demo's NanoDet + tracker + EfficientPose)
CAMERAS ?= 1,2,4
WINDOW ?= 30
bench-serve: build
	python3 scripts/bench_serve.py --cameras $(CAMERAS) --window $(WINDOW) $(if $(FLAGS),-- $(FLAGS),)

# Local session vs Triton on loopback (CONFIG=, FRAMES=, INSTANCES=, THREADS=): out/bench-triton.json
bench-triton: build
	scripts/bench-triton.sh

# ---- install ---------------------------------------------------------------------------------
# The build records DATADIR and the ONNX Runtime path (build.rs), so the installed CLI and plugin
# need no environment variables; it lives in its own target folder so the test build is untouched.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share/sapiens-stream
ORTDIR ?= $(PREFIX)/lib/sapiens-stream
PLUGINDIR ?= $(shell pkg-config --variable=pluginsdir gstreamer-1.0)
ORT_VERSION := 1.32.0
ORT_LIB = $(shell cat .sapiens/ort-dylib-path 2>/dev/null)
INSTALL_TARGET := target/install
# The generated models the shipped configs name (../tests/models/X becomes ../models/X), and the
# converted trained ones (../models/trained/X, scripts/setup-trained.sh), installed as they are.
SHIPPED_MODELS := $(sort $(shell sed -n 's|^path = "\.\./tests/models/\(.*\)"|\1|p' configs/*.toml))
TRAINED_MODELS := $(sort $(shell sed -n 's|^path = "\.\./models/trained/\(.*\)"|\1|p' configs/*.toml))
SHIPPED_CONFIGS := $(notdir $(wildcard configs/*.toml)) README.md
ANALYTICS_FILES := $(notdir $(wildcard configs/analytics/*.toml))
BUILD_KEY := $(DATADIR) $(ORTDIR)

# Builds as the invoking user; `sudo make install` then only copies (root has no cargo, or the
# stamp already matches these paths).
install-build: setup
	SAPIENS_DATADIR=$(DATADIR) SAPIENS_ORT_DYLIB=$(ORTDIR)/libonnxruntime.so.$(ORT_VERSION) \
	  CARGO_TARGET_DIR=$(INSTALL_TARGET) $(CARGO) build --release --workspace --locked
	echo "$(BUILD_KEY)" > $(INSTALL_TARGET)/paths

install:
	@if command -v $(CARGO) >/dev/null 2>&1; then $(MAKE) --no-print-directory install-build; \
	 elif [ "$$(cat $(INSTALL_TARGET)/paths 2>/dev/null)" != "$(BUILD_KEY)" ]; then \
	   echo "install: no build for PREFIX=$(PREFIX): run 'make install-build PREFIX=$(PREFIX)' first" >&2; exit 1; fi
	@[ -f "$(ORT_LIB)" ] || { echo "install: ONNX Runtime library not found: run make setup" >&2; exit 1; }
	@[ -n "$(PLUGINDIR)" ] || { echo "install: pkg-config gstreamer-1.0 gives no pluginsdir: set PLUGINDIR" >&2; exit 1; }
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(ORTDIR) \
	  $(DESTDIR)$(DATADIR)/configs/keypoints $(DESTDIR)$(DATADIR)/configs/classes \
	  $(DESTDIR)$(DATADIR)/configs/analytics $(DESTDIR)$(DATADIR)/models
	install -m 755 $(INSTALL_TARGET)/release/sapiens $(DESTDIR)$(BINDIR)/sapiens
	install -m 644 $(INSTALL_TARGET)/release/libgstsapiens.so $(DESTDIR)$(PLUGINDIR)/libgstsapiens.so
	install -m 644 $(ORT_LIB) $(DESTDIR)$(ORTDIR)/libonnxruntime.so.$(ORT_VERSION)
	install -m 644 $(dir $(ORT_LIB))../LICENSE $(DESTDIR)$(ORTDIR)/LICENSE.onnxruntime
	install -m 644 $(dir $(ORT_LIB))../ThirdPartyNotices.txt $(DESTDIR)$(ORTDIR)/ThirdPartyNotices.onnxruntime.txt
	for f in $(SHIPPED_CONFIGS); do \
	  sed 's|^path = "\.\./tests/models/|path = "../models/|' configs/$$f > $(DESTDIR)$(DATADIR)/configs/$$f; \
	  chmod 644 $(DESTDIR)$(DATADIR)/configs/$$f; done
	install -m 644 configs/keypoints/*.json $(DESTDIR)$(DATADIR)/configs/keypoints/
	install -m 644 configs/classes/*.json $(DESTDIR)$(DATADIR)/configs/classes/
	install -m 644 configs/analytics/*.toml $(DESTDIR)$(DATADIR)/configs/analytics/
	install -m 644 $(addprefix tests/models/,$(SHIPPED_MODELS)) $(DESTDIR)$(DATADIR)/models/
	install -d $(DESTDIR)$(DATADIR)/models/trained
	install -m 644 $(addprefix models/trained/,$(TRAINED_MODELS) manifest.json LICENSE.human-models) \
	  $(DESTDIR)$(DATADIR)/models/trained/
	@echo "installed: $(BINDIR)/sapiens, $(PLUGINDIR)/libgstsapiens.so, $(DATADIR), $(ORTDIR)"

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/sapiens $(DESTDIR)$(PLUGINDIR)/libgstsapiens.so
	rm -f $(DESTDIR)$(ORTDIR)/libonnxruntime.so.$(ORT_VERSION) $(DESTDIR)$(ORTDIR)/LICENSE.onnxruntime \
	  $(DESTDIR)$(ORTDIR)/ThirdPartyNotices.onnxruntime.txt
	rm -f $(addprefix $(DESTDIR)$(DATADIR)/configs/,$(SHIPPED_CONFIGS)) \
	  $(DESTDIR)$(DATADIR)/configs/keypoints/*.json $(DESTDIR)$(DATADIR)/configs/classes/*.json \
	  $(addprefix $(DESTDIR)$(DATADIR)/configs/analytics/,$(ANALYTICS_FILES)) \
	  $(addprefix $(DESTDIR)$(DATADIR)/models/,$(SHIPPED_MODELS)) \
	  $(addprefix $(DESTDIR)$(DATADIR)/models/trained/,$(TRAINED_MODELS) manifest.json LICENSE.human-models)
	-rmdir $(DESTDIR)$(DATADIR)/models/trained $(DESTDIR)$(DATADIR)/configs/keypoints $(DESTDIR)$(DATADIR)/configs/classes \
	  $(DESTDIR)$(DATADIR)/configs/analytics \
	  $(DESTDIR)$(DATADIR)/configs $(DESTDIR)$(DATADIR)/models $(DESTDIR)$(DATADIR) $(DESTDIR)$(ORTDIR) 2>/dev/null

# ---- Debian package ----------------------------------------------------------------------------
CARGO_DEB_VERSION := 3.8.0
CARGO_DEB := target/tools/bin/cargo-deb

$(CARGO_DEB):
	$(CARGO) install cargo-deb --locked --version $(CARGO_DEB_VERSION) --root target/tools

deb: $(CARGO_DEB)
	rm -rf target/deb-root
	$(MAKE) --no-print-directory install PREFIX=/usr DESTDIR=$(CURDIR)/target/deb-root
	$(CARGO_DEB) --no-build --no-strip -p sapiens-stream --output target/debian
	@ls target/debian/*.deb

# Installs for real (make install, then the .deb with apt-get), checks without environment
# variables, removes: needs root or passwordless sudo (tests/install/main.rs).
test-install:
	$(CARGO) test --test install -- --test-threads 1 --nocapture

# ---- real architectures (opt-in: torch, several GB) ------------------------------------------
# Export paths proven on the real 0.3B (v1) and 0.4B (Sapiens2) architectures with random weights,
# then run through the elements (tests/export/run_export_tests.py; figures in out/export/).
test-export: setup
	scripts/setup-export.sh
	$(CARGO) build --workspace
	.venv-export/bin/python tests/export/run_export_tests.py --out out/export

# Real-size v1 0.3B pose, random weights, no torch (configs/pose-0.3b-goliath-random.toml).
real-size-models: setup
	.venv/bin/python scripts/gen_test_models.py --real-size 0.3b models/sapiens_0.3b_pose_goliath308_random.onnx
