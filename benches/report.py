#!/usr/bin/env python3
"""Turns shale-bench --report_csv output into a Markdown table of ratios and an SVG
bar chart. Standard library only.

    python3 benches/report.py results.csv --markdown out.md --svg out.svg [--notes notes.txt]
"""
import argparse
import csv
import html
import math

ENGINES = ["shale", "rocksdb", "fjall"]


def load(path):
    rows = {}
    order = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            key = (r["benchmark"], int(r["threads"]), int(r["num"]))
            if key not in order:
                order.append(key)
            rows[(key, r["engine"])] = r
    engines = [e for e in ENGINES if any(k[1] == e for k in rows)]
    return rows, order, engines


def num(r, field):
    try:
        return float(r[field]) if r and r[field] != "" else None
    except (KeyError, ValueError):
        return None


def fmt(x, digits=0):
    if x is None:
        return "–"
    return f"{x:,.{digits}f}"


def label(key):
    bench, threads, n = key
    return f"{bench} (t={threads}, n={n:,})"


def markdown(rows, order, engines, notes):
    out = []
    if notes:
        out += [f"- {line}" for line in notes] + [""]
    others = [e for e in engines if e != "shale"]
    head = ["benchmark"] + [f"{e} ops/s" for e in engines]
    head += [f"shale / {e}" for e in others if "shale" in engines]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * len(head))
    for key in order:
        cells = [label(key)]
        ops = {e: num(rows.get((key, e)), "ops_per_sec") for e in engines}
        cells += [fmt(ops[e]) for e in engines]
        if "shale" in engines:
            for e in others:
                s, o = ops["shale"], ops[e]
                cells.append(f"{s / o:.2f}×" if s and o else "–")
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out.append("Ratios are throughput (ops/sec): above 1 means ShaleDB is faster.")
    out.append("")
    # Latency, memory and amplification.
    head = ["benchmark", "engine", "p50 µs", "p99 µs", "p99.9 µs", "peak RSS MB",
            "write amp (engine)", "write amp (io)", "space amp", "disk MB", "settle s"]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * len(head))
    for key in order:
        for e in engines:
            r = rows.get((key, e))
            if not r:
                continue
            out.append("| " + " | ".join([
                label(key), e, fmt(num(r, "p50_us"), 2), fmt(num(r, "p99_us"), 2),
                fmt(num(r, "p999_us"), 2), fmt(num(r, "peak_rss_mb"), 1),
                fmt(num(r, "write_amp"), 2), fmt(num(r, "io_write_amp"), 2),
                fmt(num(r, "space_amp"), 2), fmt(num(r, "disk_mb"), 1),
                fmt(num(r, "settle_s"), 2)]) + " |")
    out.append("")
    return "\n".join(out)


COLORS = {"shale": "#c0504d", "rocksdb": "#4f81bd", "fjall": "#9bbb59"}


def svg(rows, order, engines):
    """Grouped bars of ops/sec per benchmark, log scale."""
    bar_w, gap, left, top, height = 14, 18, 70, 40, 260
    group_w = bar_w * len(engines) + gap
    width = left + group_w * len(order) + 40
    total_h = top + height + 150
    vals = [num(rows.get((k, e)), "ops_per_sec") for k in order for e in engines]
    vals = [v for v in vals if v]
    if not vals:
        return "<svg xmlns='http://www.w3.org/2000/svg'/>"
    lo = 10 ** math.floor(math.log10(min(vals)))
    hi = 10 ** math.ceil(math.log10(max(vals)))
    span = math.log10(hi) - math.log10(lo) or 1

    def y(v):
        return top + height - (math.log10(v) - math.log10(lo)) / span * height

    p = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{total_h}' "
         f"font-family='sans-serif' font-size='11'>",
         f"<rect width='{width}' height='{total_h}' fill='white'/>",
         f"<text x='{left}' y='20' font-size='14'>ops/sec (log scale), higher is better</text>"]
    d = lo
    while d <= hi:
        yy = y(d)
        p.append(f"<line x1='{left}' x2='{width - 20}' y1='{yy:.1f}' y2='{yy:.1f}' stroke='#ddd'/>")
        p.append(f"<text x='{left - 5}' y='{yy + 4:.1f}' text-anchor='end'>{d:,.0f}</text>")
        d *= 10
    for i, key in enumerate(order):
        x0 = left + i * group_w + gap / 2
        for j, e in enumerate(engines):
            v = num(rows.get((key, e)), "ops_per_sec")
            if not v:
                continue
            yy = y(v)
            p.append(f"<rect x='{x0 + j * bar_w:.1f}' y='{yy:.1f}' width='{bar_w - 1}' "
                     f"height='{top + height - yy:.1f}' fill='{COLORS.get(e, '#888')}'>"
                     f"<title>{html.escape(e)} {html.escape(label(key))}: {v:,.0f} ops/s</title></rect>")
        cx = x0 + bar_w * len(engines) / 2
        name = f"{key[0]} t={key[1]}"
        p.append(f"<text transform='translate({cx:.1f},{top + height + 10}) rotate(45)'>"
                 f"{html.escape(name)}</text>")
    for j, e in enumerate(engines):
        lx = left + j * 90
        p.append(f"<rect x='{lx}' y='{total_h - 20}' width='12' height='12' fill='{COLORS.get(e, '#888')}'/>")
        p.append(f"<text x='{lx + 16}' y='{total_h - 10}'>{html.escape(e)}</text>")
    p.append("</svg>")
    return "\n".join(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("csv")
    ap.add_argument("--markdown")
    ap.add_argument("--svg")
    ap.add_argument("--notes")
    a = ap.parse_args()
    rows, order, engines = load(a.csv)
    notes = []
    if a.notes:
        with open(a.notes) as f:
            notes = [line.strip() for line in f if line.strip()]
    md = markdown(rows, order, engines, notes)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(md)
    else:
        print(md)
    if a.svg:
        with open(a.svg, "w") as f:
            f.write(svg(rows, order, engines))


if __name__ == "__main__":
    main()
