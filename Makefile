# make demo  – set up, build, detect + track + pose on real video → out/demo.mp4 (prints fps and latency)
# make test  – set up, lint (fmt, clippy -D warnings), then every test under G_DEBUG=fatal_warnings
#              (.ci/run calls this)
CARGO ?= cargo
FRAMES ?= 200

.PHONY: setup build demo lint test models bench clean-cache

setup:
	@scripts/setup.sh

build: setup
	$(CARGO) build --release --workspace

demo: build
	./target/release/sapiens run --input data/vtest.avi \
	  --detector hog --detect-interval 3 --track --smoothing \
	  --config configs/pose-tiny-goliath308.toml \
	  --output out/demo.mp4 --max-frames $(FRAMES) --stats-json out/demo-stats.json
	@echo "Plugin for gst-launch-1.0: export GST_PLUGIN_PATH=$(CURDIR)/target/release"

lint: setup
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# A GLib warning or critical (invalid caps, a refused property value) aborts the test that caused it.
test: lint
	$(CARGO) build --workspace
	G_DEBUG=fatal_warnings $(CARGO) test --workspace -- --test-threads 2
	.venv/bin/python scripts/gen_test_models.py --check

models: setup
	.venv/bin/python scripts/gen_test_models.py
