#!/usr/bin/env python3
"""Draw docs/bench-depth.svg from `canopy bench --json` output: p50 latency of one call against
in-process depth, for Canopy and for a chain of naive rmcp proxies (log scale).

Usage: canopy bench --json > bench.jsonl && python3 scripts/bench_chart.py bench.jsonl
       (or pipe the JSON lines in: ... | python3 scripts/bench_chart.py - [OUT.svg])
Only the Python standard library is used.
"""

import json
import math
import sys
from pathlib import Path

WIDTH, HEIGHT = 640, 400
LEFT, RIGHT, TOP, BOTTOM = 80, 170, 40, 60
COLORS = {"canopy": "#2f7d32", "naive_chain": "#c62828"}
LABELS = {"canopy": "Canopy (in-process)", "naive_chain": "naive rmcp proxy chain"}


def load_series(lines):
    for line in lines:
        line = line.strip()
        if not line:
            continue
        row = json.loads(line)
        if "series" in row:
            return row["series"], row
    sys.exit("no row with a depth series (run `canopy bench --json`)")


def fmt_ns(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:g} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:g} µs"
    return f"{ns:g} ns"


def chart(series):
    points = {k: [(p["depth"], p["p50_ns"]) for p in v] for k, v in series.items()}
    depths = sorted({d for pts in points.values() for d, _ in pts})
    values = [ns for pts in points.values() for _, ns in pts]
    lo = 10 ** math.floor(math.log10(min(values)))
    hi = 10 ** math.ceil(math.log10(max(values)))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    dmin, dmax = math.log2(depths[0]), math.log2(depths[-1])

    def x(depth):
        return LEFT + (math.log2(depth) - dmin) / max(dmax - dmin, 1) * plot_w

    def y(ns):
        return TOP + (1 - (math.log10(ns) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))) * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT}" y="22" font-size="15">p50 latency of one tools/call against depth</text>',
    ]
    decade = lo
    while decade <= hi:
        yy = y(decade)
        out.append(f'<line x1="{LEFT}" y1="{yy:.1f}" x2="{LEFT + plot_w}" y2="{yy:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 8}" y="{yy + 4:.1f}" text-anchor="end">{fmt_ns(decade)}</text>')
        decade *= 10
    for depth in depths:
        xx = x(depth)
        out.append(f'<line x1="{xx:.1f}" y1="{TOP}" x2="{xx:.1f}" y2="{TOP + plot_h}" stroke="#eee"/>')
        out.append(f'<text x="{xx:.1f}" y="{TOP + plot_h + 18}" text-anchor="middle">{depth}</text>')
    out.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 15}" text-anchor="middle">depth (nodes between the caller and the leaf)</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#444"/>')
    for i, (name, pts) in enumerate(points.items()):
        color = COLORS.get(name, "#1565c0")
        path = " ".join(f"{x(d):.1f},{y(ns):.1f}" for d, ns in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for d, ns in pts:
            out.append(f'<circle cx="{x(d):.1f}" cy="{y(ns):.1f}" r="3.5" fill="{color}"><title>{LABELS.get(name, name)}, depth {d}: {fmt_ns(round(ns, 1))}</title></circle>')
        ly = TOP + 20 + i * 22
        lx = LEFT + plot_w + 15
        out.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 20}" y2="{ly - 4}" stroke="{color}" stroke-width="2"/>')
        out.append(f'<text x="{lx + 26}" y="{ly}">{LABELS.get(name, name)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else "-"
    target = Path(sys.argv[2] if len(sys.argv) > 2 else Path(__file__).resolve().parent.parent / "docs" / "bench-depth.svg")
    lines = sys.stdin if source == "-" else open(source, encoding="utf-8")
    series, _ = load_series(lines)
    target.write_text(chart(series), encoding="utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
