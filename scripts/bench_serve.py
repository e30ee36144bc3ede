#!/usr/bin/env python3
"""N cameras through one `sapiens serve` vs N separate `sapiens run` processes, side by side in
one run (make bench-serve; README, "Serving many cameras").

Each camera is vtest.avi played at its own frame rate (10 fps, as a camera would deliver it)
through the same heads. For each N and each way, the cameras run for WINDOW seconds after the
first frame reached the heads; then the script reads every camera's frames through the heads and
the frames each model inferred, the peak resident memory (VmHWM; summed over the processes) and
the CPU time used, and stops everything. Output: a Markdown table on stdout and
out/bench-serve.json.

  scripts/bench_serve.py [--cameras 1,2,4] [--window 30] [--name NAME -- RUN FLAGS...]
  e.g. scripts/bench_serve.py --name "NanoDet + EfficientPose" -- \
         -c configs/pose-efficientpose-mpii16.toml --detector nanodet --detect-interval 3 --track
Standard library only: runs with any Python 3.
"""
import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def proc_status(pid, key):
    """A /proc/PID/status field in kB (0 once the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid):
    """User + system CPU seconds of a process and its reaped children so far."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return sum(int(x) for x in fields[11:13]) / tick
    except OSError:
        return 0.0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def flags_to_keys(flags):
    """`sapiens run` flags as cameras-file keys: ["-c", "x", "--track"] → {"config": ["x"], "track": True}."""
    names = {"-c": "config", "-i": "input", "-o": "output"}
    keys, i = {}, 0
    while i < len(flags):
        flag = flags[i]
        name = names.get(flag, flag.lstrip("-").replace("-", "_"))
        if i + 1 < len(flags) and not flags[i + 1].startswith("-"):
            value = flags[i + 1]
            i += 2
        else:
            value = True
            i += 1
        if name == "config":
            keys.setdefault("config", []).append(value)
        else:
            keys[name] = value
    return keys


def toml_value(v):
    if v is True:
        return "true"
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return json.dumps(v)


LIVE = re.compile(r"^\[(head\d+)\] frames +(\d+) \((\d+) dropped, (\d+) carried")


def measure_processes(sapiens, n, flags, window, video, tmp):
    """N `sapiens run` processes; their figures over `window` s after a 5 s warm-up, from
    their live lines (one a second)."""
    procs, stats, latest = [], [], []
    for i in range(n):
        js = os.path.join(tmp, f"run{i}.json")
        stats.append(js)
        p = subprocess.Popen(
            [sapiens, "run", "-i", video, "--realtime", "--stats-interval", "1",
             "--stats-json", js, *flags],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(p)
        seen = {}
        latest.append(seen)

        def read(p=p, seen=seen):
            for line in p.stdout:
                m = LIVE.match(line)
                if m:
                    seen[m.group(1)] = (int(m.group(2)), int(m.group(4)))
        threading.Thread(target=read, daemon=True).start()
    time.sleep(5)
    cpu0 = sum(cpu_seconds(p.pid) for p in procs)
    before = [dict(s) for s in latest]
    time.sleep(window)
    after = [dict(s) for s in latest]
    peak = sum(proc_status(p.pid, "VmHWM") for p in procs)
    cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu0
    for p in procs:
        p.send_signal(signal.SIGINT)
    for p in procs:
        p.wait(timeout=120)
    heads = [json.load(open(s))["heads"] for s in stats]
    return {"peak_rss_mib": peak / 1024, "cpu_s": cpu, "heads": heads, "before": before,
            "after": after}


def measure_service(sapiens, n, flags, window, video, tmp):
    """One `sapiens serve` with N cameras; the same figures."""
    keys = flags_to_keys(flags)
    path = os.path.join(tmp, "cameras.toml")
    with open(path, "w") as f:
        f.write("[defaults]\n")
        for k, v in keys.items():
            f.write(f"{k} = {toml_value(v)}\n")
        for i in range(n):
            f.write(f"[[camera]]\nid = \"cam{i}\"\ninput = {json.dumps(video)}\n")
    token_file = os.path.join(tmp, "cameras.token")
    if os.path.exists(token_file):
        os.remove(token_file)
    port = free_port()
    proc = subprocess.Popen([sapiens, "serve", "-c", path, "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        if os.path.exists(token_file):
            break
        time.sleep(0.1)
    token = open(token_file).read().strip()

    def cameras():
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/cameras",
                                     headers={"Authorization": f"Bearer {token}"})
        for _ in range(100):
            try:
                return json.load(urllib.request.urlopen(req, timeout=30))
            except OSError:
                time.sleep(0.2)
        raise SystemExit("the service does not answer")

    start = time.time()
    time.sleep(5)
    cpu0 = cpu_seconds(proc.pid)
    before = cameras()
    time.sleep(window)
    after = cameras()
    peak = proc_status(proc.pid, "VmHWM")
    cpu = cpu_seconds(proc.pid) - cpu0
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)
    return {"peak_rss_mib": peak / 1024, "cpu_s": cpu, "before": before, "after": after,
            "wall_s": time.time() - start}


def rates(result, window, way):
    """(frames through the last head /s, inferred frames of the last head /s, mean batch)."""
    out = inferred = 0
    if way == "processes":
        for b, a in zip(result["before"], result["after"]):
            name = max(a)
            (ob, cb), (oa, ca) = b.get(name, (0, 0)), a[name]
            out += oa - ob
            inferred += (oa - ca) - (ob - cb)
        lasts = [h[-1]["stats"] for h in result["heads"]]
        items = sum(s["frames_out"] - s["carried"] for s in lasts)
        return out / window, inferred / window, items / max(sum(s["runs"] for s in lasts), 1)
    items = runs = 0
    for b, a in zip(result["before"], result["after"]):
        hb, ha = b["heads"][-1]["stats"], a["heads"][-1]["stats"]
        out += ha["frames_out"] - hb["frames_out"]
        inf = (ha["frames_out"] - ha["carried"]) - (hb["frames_out"] - hb["carried"])
        inferred += inf
        items += inf
        runs += ha["runs"] - hb["runs"]
    return out / window, inferred / window, items / max(runs, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cameras", default="1,2,4")
    ap.add_argument("--window", type=float, default=30.0)
    ap.add_argument("--name", default="")
    ap.add_argument("--sapiens", default=os.path.join(ROOT, "target/release/sapiens"))
    ap.add_argument("--out", default=os.path.join(ROOT, "out/bench-serve.json"))
    ap.add_argument("flags", nargs="*", help="sapiens run flags for every camera (after --)")
    args = ap.parse_args()
    flags = args.flags or ["-c", "configs/pose-efficientpose-mpii16.toml", "--detector",
                           "nanodet", "--detect-interval", "3", "--track"]
    flags = ["--policy", "skip", "--execution-provider", "cpu", "--no-overlay"] + flags
    flags = [os.path.join(ROOT, f) if f.startswith("configs/") else f for f in flags]
    video = os.path.join(ROOT, "data/vtest.avi")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(x) for x in args.cameras.split(",")]:
            procs = measure_processes(args.sapiens, n, flags, args.window, video, tmp)
            svc = measure_service(args.sapiens, n, flags, args.window, video, tmp)
            p_out, p_inf, p_batch = rates(procs, args.window, "processes")
            s_out, s_inf, s_batch = rates(svc, args.window, "service")
            rows.append({
                "cameras": n,
                "processes": {"peak_rss_mib": procs["peak_rss_mib"], "cpu_s": procs["cpu_s"],
                              "frames_per_s": p_out, "inferred_per_s": p_inf,
                              "mean_batch": p_batch},
                "service": {"peak_rss_mib": svc["peak_rss_mib"], "cpu_s": svc["cpu_s"],
                            "frames_per_s": s_out, "inferred_per_s": s_inf,
                            "mean_batch": s_batch},
            })
            print(f"N={n}: {rows[-1]}", file=sys.stderr)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    json.dump({"name": args.name, "flags": flags, "window_s": args.window, "rows": rows},
              open(args.out, "w"), indent=1)
    print(f"{args.name} — {' '.join(flags)}; {args.window:.0f} s window")
    print("| cameras | peak RSS: service / processes | ratio | frames/s through the heads: "
          "service / processes | inferred/s (last head) | CPU s: service / processes |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        s, p = r["service"], r["processes"]
        print(f"| {r['cameras']} | {s['peak_rss_mib']:.0f} / {p['peak_rss_mib']:.0f} MiB | "
              f"{s['peak_rss_mib'] / p['peak_rss_mib']:.2f} | {s['frames_per_s']:.1f} / "
              f"{p['frames_per_s']:.1f} | {s['inferred_per_s']:.1f} / {p['inferred_per_s']:.1f} | "
              f"{s['cpu_s']:.0f} / {p['cpu_s']:.0f} |")


if __name__ == "__main__":
    main()
