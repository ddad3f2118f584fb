"""Appends the Python binding's section to bench/RESULTS.md: ferrio's Python binding (handlers in Python)
against python-socketio on uvicorn, from the raw JSON of the same run (bench/out/python-*.json).

    python bench/python_report.py bench/out bench/RESULTS.md
"""

import json
import pathlib
import sys

MARK = "<!-- python-binding -->"
SERVERS = (("python-ferrio", "ferrio, Python handlers"),
           ("python-ferrio-asgi", "ferrio in ASGI mode (uvicorn), Python handlers"),
           ("python-socketio", "python-socketio 5 + uvicorn"))
TARGETS = (("Echo: server CPU per message", "echo", 0.25), ("Idle: memory per connection", "idle", 0.35))


def load(out, name):
    path = out / name
    try:
        return json.loads(path.read_text().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return None


def fmt(v, digits=2):
    return "—" if v is None else f"{v:,.{digits}f}"


def main():
    out, results = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    lines = [MARK, "", "## Python binding (acceptance 4 of issue #4)", "",
             "Same handlers (`bench/servers/python_ferrio.py`, `bench/servers/python_socketio.py`), same "
             "load generator and pinning as above; the handlers run in Python in both. Load average when "
             f"this section was written: {pathlib.Path('/proc/loadavg').read_text().split()[:3]} (a shared "
             "2-core machine: other builds may have been running; single figures are noisy). A broadcast "
             "row whose server could not keep up has fewer deliveries/s than the offered rate; its CPU per "
             "delivery is then per delivery made. The window columns are the throughput regime (W packets in "
             "flight, see \"Broadcast fan-out, throughput\" above).", ""]
    metric = {}
    lines += ["| server | echo msgs/s | p50 µs | p99 µs | server CPU % | **CPU µs/msg** | broadcast deliveries/s | "
              "**broadcast CPU µs/delivery** | window deliveries/s | **window CPU µs/delivery** |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for key, label in SERVERS:
        echo = load(out, f"{key}-echo.json") or {}
        bc = load(out, f"{key}-broadcast.json") or {}
        bw = load(out, f"{key}-broadcast-window.json") or {}
        metric[(key, "echo")] = echo.get("server_cpu_us_per_msg")
        lat = echo.get("latency_us", {})
        lines.append(f"| {label} | {fmt(echo.get('msgs_per_sec'), 0)} | {fmt(lat.get('p50'), 0)} | "
                     f"{fmt(lat.get('p99'), 0)} | {fmt(echo.get('cpu', {}).get('server_cpu_pct'), 1)} | "
                     f"**{fmt(echo.get('server_cpu_us_per_msg'))}** | {fmt(bc.get('deliveries_per_sec'), 0)} | "
                     f"**{fmt(bc.get('server_cpu_us_per_delivery'), 3)}** | {fmt(bw.get('deliveries_per_sec'), 0)} | "
                     f"**{fmt(bw.get('server_cpu_us_per_delivery'), 3)}** |")
    lines += ["", "| server | idle connections | connected | RSS before KiB | RSS KiB | **KiB per connection** |",
              "|---|---|---|---|---|---|"]
    for key, label in SERVERS:
        per = []
        for path in sorted(out.glob(f"{key}-idle-*.json"), key=lambda p: int(p.stem.rsplit("-", 1)[1])):
            v = load(out, path.name) or {}
            if v.get("per_conn_kib") is not None:
                per.append(v["per_conn_kib"])
            lines.append(f"| {label} | {v.get('conns')} | {v.get('connected')} | {v.get('baseline_kib')} | "
                         f"{v.get('rss_kib')} | **{fmt(v.get('per_conn_kib'), 2)}** |")
        metric[(key, "idle")] = per[-1] if per else None  # the largest level
    lines += ["", "| target | ferrio (Python) | python-socketio | ratio | goal | |", "|---|---|---|---|---|---|"]
    for name, kind, goal in TARGETS:
        a, b = metric.get(("python-ferrio", kind)), metric.get(("python-socketio", kind))
        ratio = a / b if a is not None and b else None
        verdict = "—" if ratio is None else ("met" if ratio <= goal else "NOT met")
        lines.append(f"| {name} | {fmt(a)} | {fmt(b)} | {fmt(ratio, 3)} | ≤ {goal} | {verdict} |")
    serve, asgi = metric.get(("python-ferrio", "echo")), metric.get(("python-ferrio-asgi", "echo"))
    if serve and asgi:
        lines += ["", f"ASGI mode (uvicorn owns the port and relays every WebSocket message through Python) against "
                      f"`serve` (ferrio owns the port): echo server CPU per message {fmt(asgi)} µs vs {fmt(serve)} µs "
                      f"({fmt(asgi / serve, 2)}×)."]
    lines.append("")
    text = results.read_text() if results.exists() else ""
    if MARK in text:
        text = text[: text.index(MARK)].rstrip() + "\n\n"
    results.write_text(text + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
