"""Turns the JSON reports of benches/capacity.sh into the Markdown tables of docs/benchmarks.md."""
import json
import pathlib
import sys

out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "artifacts/capacity")
runs, idle = [], []
for path in sorted(out.glob("*.json")):
    report = json.loads(path.read_text())
    (idle if report["config"]["scenario"] == "idle" else runs).append(report)

print("| parser | transport | bots | SLO | ack p99 ms | input->snapshot p99 ms | delivery % | server CPU % (avg) | "
      "server CPU per 1,000 bots | server RSS MiB | bytes in per bot/s | bot CPU % (max) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
best = {}
for r in sorted(runs, key=lambda r: (r["config"]["parser"], r["config"]["transport"], r["bots"])):
    c, s = r["config"], r.get("server") or {}
    passed = r["slo"]["passed"] if r.get("slo") else None
    key = (c["parser"], c["transport"])
    if passed:
        best[key] = max(best.get(key, 0), r["bots"])
    cpu = s.get("cpu_percent_avg", 0.0)
    print(f"| {c['parser']} | {c['transport']} | {r['bots']} | {'pass' if passed else 'FAIL'} "
          f"| {r['latency_ms']['ack']['p99']:.2f} | {r['latency_ms']['input_to_snapshot']['p99']:.2f} "
          f"| {100 * r['snapshots']['ratio']:.3f} | {cpu:.0f} | {cpu * 1000 / r['bots']:.0f}% "
          f"| {s.get('rss_mib_max', 0):.0f} | {r['bytes_in_per_bot_per_s']:.0f} | {r['bot_process']['cpu_percent_max']:.0f} |")
print()
print("| parser | transport | largest passing step |")
print("|---|---|---|")
for key in sorted({(r["config"]["parser"], r["config"]["transport"]) for r in runs}):
    print(f"| {key[0]} | {key[1]} | {best.get(key, 'none')} |")
for r in idle:
    s = r.get("server") or {}
    start, peak = s.get("rss_mib_start"), s.get("rss_mib_max", 0)
    n = r["bots_connected_peak"]
    if start is not None and n:
        per = (peak - start) * 1024 * 1024 / n / 1024
        print(f"\nIdle connections: {n} held; server RSS {start:.1f} MiB before, {peak:.1f} MiB peak: "
              f"**{per:.1f} KiB per connection**.")
