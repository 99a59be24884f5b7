"""Chart geometry for inline SVG (drawn by report_templates/_charts.html).

Python computes the shapes; the template writes the markup, so labels are escaped like any other
text. Coordinates are formatted to one decimal here: the SVG text is byte-stable.
"""

from __future__ import annotations

from datetime import datetime, timedelta

WIDTH, HEIGHT = 720, 210
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 10, 30

ACTION_COLORS = {"Allowed": "#3b7dd8", "Blocked": "#d64545", "Caution": "#e3a33b", "Isolated": "#8a5cc4"}
SEVERITY_COLORS = {"critical": "#7a1020", "high": "#d64545", "medium": "#e3a33b", "low": "#8fb3d9"}
STATUS_COLORS = {"attributed": "#2e9958", "ambiguous": "#e3a33b", "unattributed": "#d64545", "not_worker": "#b8bec6"}
PALETTE = ["#3b7dd8", "#d64545", "#e3a33b", "#2e9958", "#8a5cc4", "#4bb3c2", "#c25b93", "#7d8793"]


def _f(x: float) -> str:
    return f"{x:.1f}"


def _nice_max(value: int) -> int:
    if value <= 0:
        return 1
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return int(step * magnitude) if step * magnitude >= 1 else 1
    return 10 * magnitude


def _human(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M".replace(".0M", "M")
    if n >= 10_000:
        return f"{n // 1000}k"
    return f"{n:,}"


def _tick(value: float) -> str:
    return _human(int(value)) if value == int(value) else f"{value:.1f}"


def _buckets(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    out, t = [], start
    while t < end:
        out.append(t)
        t += step
    return out


def _floor(t: datetime, bucket: str) -> datetime:
    t = t.replace(minute=0, second=0, microsecond=0)
    return t.replace(hour=0) if bucket == "day" else t


def stacked(buckets: list[datetime], names: list[str], values: dict, colors: dict, *, bucket: str,
            title: str) -> dict:
    """Stacked bars: one column per bucket, one band per series name (in `names` order)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(buckets), 1)
    col = plot_w / n
    bar = max(col * 0.82, 0.6)
    totals = [sum(values.get((b, name), 0) for name in names) for b in buckets]
    top = _nice_max(max(totals, default=0))
    rects = []
    for i, b in enumerate(buckets):
        y = TOP + plot_h
        for name in names:
            v = values.get((b, name), 0)
            if not v:
                continue
            h = plot_h * v / top
            y -= h
            rects.append({"x": _f(LEFT + i * col + (col - bar) / 2), "y": _f(y), "w": _f(bar), "h": _f(h),
                          "color": colors[name]})
    yticks = [{"y": _f(TOP + plot_h - plot_h * frac), "label": _tick(top * frac)} for frac in (0, 0.5, 1)]
    every = max(1, -(-n // 6))
    span = (buckets[-1] - buckets[0]) if buckets else timedelta(0)
    if bucket == "hour" and span < timedelta(days=1):
        fmt = "%H:00"
    elif bucket == "hour" and span < timedelta(days=3):
        fmt = "%m-%d %H:00"
    else:
        fmt = "%m-%d"
        if bucket == "hour":  # a month of hours: label midnights only
            every = max(24, -(-n // 6) // 24 * 24)
    # the first label starts at the axis (centred it would run into the y axis' "0")
    xticks = [{"x": _f(LEFT + i * col + (0 if i == 0 else col / 2)), "anchor": "start" if i == 0 else "middle",
               "label": b.strftime(fmt)} for i, b in enumerate(buckets) if i % every == 0]
    legend = [{"name": name, "color": colors[name], "total": sum(values.get((b, name), 0) for b in buckets)}
              for name in names]
    return {
        "kind": "stacked", "title": title, "width": WIDTH, "height": HEIGHT, "rects": rects,
        "xticks": xticks, "yticks": yticks, "legend": legend, "empty": not any(totals),
        "left": LEFT, "right": WIDTH - RIGHT, "top": TOP, "bottom": TOP + plot_h,
    }


def _colors_for(names: list[str], fixed: dict) -> dict:
    out, spare = {}, [c for c in PALETTE if c not in fixed.values()] or PALETTE
    for i, name in enumerate(names):
        out[name] = fixed.get(name) or spare[i % len(spare)]
    return out


def requests_per_hour(rows: list[dict], period) -> dict:
    start = _floor(period.since, "hour")
    buckets = _buckets(start, period.until, timedelta(hours=1))
    values = {(r["hour"], r["action"]): r["requests"] for r in rows}
    found = sorted({r["action"] for r in rows}, key=lambda a: (a not in ACTION_COLORS, a.startswith("ZPA"), a))
    return stacked(buckets, found, values, _colors_for(found, ACTION_COLORS), bucket="hour",
                   title="Requests per hour by Zscaler action")


def findings_over_time(rows: list[dict], period, bucket: str) -> dict:
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    buckets = _buckets(_floor(period.since, bucket), period.until, step)
    values = {(r["bucket"], r["severity"]): r["findings"] for r in rows}
    found = [s for s in SEVERITY_COLORS if any(r["severity"] == s for r in rows)]
    found += sorted({r["severity"] for r in rows} - set(found))
    return stacked(buckets, found, values, _colors_for(found, SEVERITY_COLORS), bucket=bucket,
                   title=f"Findings per {bucket} by severity")


def attribution(coverage: list[dict], rows: list[dict], period, bucket: str) -> dict:
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    buckets = _buckets(_floor(period.since, bucket), period.until, step)
    names = [s for s in ("attributed", "ambiguous", "unattributed") if any(r["status"] == s for r in rows)]
    names += sorted({r["status"] for r in rows} - set(names))
    chart = stacked(buckets, names, {(r["bucket"], r["status"]): r["requests"] for r in rows},
                    _colors_for(names, STATUS_COLORS), bucket=bucket,
                    title=f"Worker requests per {bucket} by attribution status")
    # one 100% bar over the whole period, not_worker excluded (outside the population)
    parts = [r for r in coverage if r["status"] != "not_worker" and r["requests"]]
    whole = sum(r["requests"] for r in parts)
    x, segments = float(LEFT), []
    width = WIDTH - LEFT - RIGHT
    colors = _colors_for([r["status"] for r in parts], STATUS_COLORS)
    for r in parts:
        w = width * r["requests"] / whole
        segments.append({"x": _f(x), "w": _f(w), "color": colors[r["status"]], "status": r["status"],
                         "requests": r["requests"], "share": r["share"], "label_x": _f(x + w / 2),
                         "labelled": w > 60})
        x += w
    chart["share_bar"] = {"segments": segments, "width": WIDTH, "left": LEFT, "bar_width": _f(width)}
    return chart
