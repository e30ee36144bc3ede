#!/usr/bin/env bash
# Soak benchmark (opt-in: make soak): a live RTSP camera on loopback through `sapiens run` for
# DURATION seconds, recording and re-serving the annotated video, with an RTSP client joining the
# served stream for CLIENT_S seconds every INTERVAL (CLIENTS=0: none); the resident memory (RSS)
# of the run written every INTERVAL seconds to out/soak.csv. Ends with SIGINT (the recording is
# finalized) and prints the first, largest and last RSS and the growth after the first minute.
#
#   DURATION=3600 INTERVAL=60 CONFIG=configs/pose-tiny-goliath308.toml scripts/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-3600}
INTERVAL=${INTERVAL:-60}
CONFIG=${CONFIG:-configs/pose-tiny-goliath308.toml}
SAPIENS=${SAPIENS:-target/release/sapiens}
OUT=${OUT:-out}
CLIENTS=${CLIENTS:-1}
CLIENT_S=${CLIENT_S:-10}
mkdir -p "$OUT"
[ -x "$SAPIENS" ] || { echo "soak: $SAPIENS missing (cargo build --release --workspace)" >&2; exit 1; }
export GST_PLUGIN_PATH="$PWD/$(dirname "$SAPIENS")"
free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
CAM_PORT=$(free_port)
SERVE_PORT=$(free_port)
gst-launch-1.0 -q videotestsrc is-live=true pattern=ball ! \
  video/x-raw,width=640,height=480,framerate=15/1 ! \
  sapiensrtspsink port="$CAM_PORT" path=/cam >"$OUT/soak-camera.log" 2>&1 &
CAMERA=$!
trap 'kill $CAMERA 2>/dev/null || true; [ -n "${RUN:-}" ] && kill -9 $RUN 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$CAM_PORT") 2>/dev/null && break
  sleep 0.1
done
"$SAPIENS" run -i "rtsp://127.0.0.1:$CAM_PORT/cam" -c "$CONFIG" --policy skip \
  -o "$OUT/soak.mp4" --rtsp-serve "127.0.0.1:$SERVE_PORT/soak" \
  --stats-interval 60 --stats-json "$OUT/soak-stats.json" >"$OUT/soak-run.log" 2>&1 &
RUN=$!
echo "elapsed_s,rss_mib" >"$OUT/soak.csv"
start=$(date +%s)
while :; do
  now=$(($(date +%s) - start))
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$RUN/status" 2>/dev/null) || { echo "soak: the run ended early" >&2; tail "$OUT/soak-run.log" >&2; exit 1; }
  echo "$now,$((rss / 1024))" >>"$OUT/soak.csv"
  [ "$now" -ge "$DURATION" ] && break
  if [ "$CLIENTS" != 0 ]; then
    # A viewer joins and leaves (the shared media is made and torn down each time).
    timeout "$CLIENT_S" gst-launch-1.0 -q rtspsrc location="rtsp://127.0.0.1:$SERVE_PORT/soak" \
      protocols=tcp ! rtph264depay ! avdec_h264 ! fakesink >/dev/null 2>&1 || true
    sleep $((INTERVAL > CLIENT_S ? INTERVAL - CLIENT_S : 0))
  else
    sleep "$INTERVAL"
  fi
done
kill -INT "$RUN"
wait "$RUN"
RUN=
awk -F, 'NR == 2 {first = $2} NR > 1 {if ($2 > max) max = $2; last = $2; if ($1 >= 60 && !base) base = $2}
  END {printf "soak: RSS MiB first %d, largest %d, last %d; growth after the first minute %+d\n", first, max, last, last - base}' "$OUT/soak.csv"
echo "soak: every sample in $OUT/soak.csv; the run's output in $OUT/soak-run.log"
