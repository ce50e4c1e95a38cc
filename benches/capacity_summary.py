"""Turns the JSON reports of benches/capacity.sh into the Markdown tables of docs/benchmarks.md.

Step reports are named SERVER-PARSER-TRANSPORT-BOTS.json, SERVER being `tickstorm` or `bare`
(tickstorm-bare, the bare socketioxide baseline); reports of older runs, named
PARSER-TRANSPORT-BOTS.json, are Tickstorm's. Besides every run and the largest passing step of
each server, the summary puts the two servers side by side: largest passing step per parser and
transport and their ratio (tickstorm / bare), and each server's CPU at 1,000 bots.
"""
import json
import pathlib
import sys

SERVERS = ("tickstorm", "bare")

out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "artifacts/capacity")


def server_of(path):
    """The server a step report is of, from its file name."""
    prefix = path.name.split("-", 1)[0]
    return prefix if prefix in SERVERS else "tickstorm"


runs, idle = [], []
for path in sorted(out.glob("*.json")):
    report = json.loads(path.read_text())
    if report["config"]["scenario"] == "idle":
        idle.append(report)
    else:
        report["server_name"] = server_of(path)
        runs.append(report)


def combo(r):
    return (r["config"]["parser"], r["config"]["transport"])


def order(r):
    return (combo(r), SERVERS.index(r["server_name"]), r["bots"])


print("| server | parser | transport | bots | SLO | ack p99 ms | input->snapshot p99 ms | delivery % | "
      "server CPU % (avg) | server CPU per 1,000 bots | server RSS MiB | bytes in per bot/s | bot CPU % (max) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
best, first_fail, cpu_at_1000 = {}, {}, {}
for r in sorted(runs, key=order):
    c, s = r["config"], r.get("server") or {}
    passed = r["slo"]["passed"] if r.get("slo") else None
    key = (r["server_name"],) + combo(r)
    if passed:
        best[key] = max(best.get(key, 0), r["bots"])
    elif passed is False:
        first_fail[key] = min(first_fail.get(key, r["bots"]), r["bots"])
    cpu = s.get("cpu_percent_avg", 0.0)
    if r["bots"] == 1000 and s:
        cpu_at_1000[key] = cpu
    print(f"| {r['server_name']} | {c['parser']} | {c['transport']} | {r['bots']} | {'pass' if passed else 'FAIL'} "
          f"| {r['latency_ms']['ack']['p99']:.2f} | {r['latency_ms']['input_to_snapshot']['p99']:.2f} "
          f"| {100 * r['snapshots']['ratio']:.3f} | {cpu:.0f} | {cpu * 1000 / r['bots']:.0f}% "
          f"| {s.get('rss_mib_max', 0):.0f} | {r['bytes_in_per_bot_per_s']:.0f} | {r['bot_process']['cpu_percent_max']:.0f} |")
print()

servers = [name for name in SERVERS if any(r["server_name"] == name for r in runs)]
combos = sorted({combo(r) for r in runs})


def step(key):
    """Largest passing step, marked `+` when no step failed (capacity is at least that)."""
    if key not in best:
        return "none"
    return f"{best[key]}" + ("" if key in first_fail else "+")


print("| server | parser | transport | largest passing step | first failing step |")
print("|---|---|---|---|---|")
for parser, transport in combos:
    for name in servers:
        key = (name, parser, transport)
        print(f"| {name} | {parser} | {transport} | {step(key)} | {first_fail.get(key, '-')} |")

if len(servers) == 2:
    print()
    print("Side by side (largest passing step; `+`: no step failed, the capacity is at least that):")
    print()
    print("| parser | transport | tickstorm | bare | tickstorm / bare |")
    print("|---|---|---|---|---|")
    for parser, transport in combos:
        t, b = ("tickstorm", parser, transport), ("bare", parser, transport)
        ratio = f"{best[t] / best[b]:.2f}" if t in best and b in best else "-"
        print(f"| {parser} | {transport} | {step(t)} | {step(b)} | {ratio} |")

if cpu_at_1000:
    print()
    print("Server CPU at 1,000 bots (average over the run, % of one core; ms of CPU per client per second):")
    print()
    print("| parser | transport | " + " | ".join(servers) + (" | tickstorm / bare |" if len(servers) == 2 else " |"))
    print("|---|---|" + "---|" * len(servers) + ("---|" if len(servers) == 2 else ""))
    for parser, transport in combos:
        cells = []
        for name in servers:
            cpu = cpu_at_1000.get((name, parser, transport))
            cells.append("-" if cpu is None else f"{cpu:.0f}% ({cpu * 10 / 1000:.2f} ms)")
        row = f"| {parser} | {transport} | " + " | ".join(cells) + " |"
        if len(servers) == 2:
            t = cpu_at_1000.get(("tickstorm", parser, transport))
            b = cpu_at_1000.get(("bare", parser, transport))
            row += f" {t / b:.2f} |" if t is not None and b else " - |"
        print(row)

for r in idle:
    s = r.get("server") or {}
    start, peak = s.get("rss_mib_start"), s.get("rss_mib_max", 0)
    n = r["bots_connected_peak"]
    if start is not None and n:
        per = (peak - start) * 1024 * 1024 / n / 1024
        print(f"\nIdle connections (tickstorm): {n} held; server RSS {start:.1f} MiB before, {peak:.1f} MiB peak: "
              f"**{per:.1f} KiB per connection**.")
