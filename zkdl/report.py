"""Audit reports: the text report of ``zkdl audit`` and the self-contained HTML page.

Both render the report dict of :func:`zkdl.audit.audit_claim` (format ``zkdl-audit/v1``,
docs/FORMAT.md section 5). Every string that comes from a manifest is untrusted: text
lines escape what is not printable, HTML escapes everything.
"""

from __future__ import annotations

import html
import json
import math

from zkdl.audit import as_float


def _printable(line: str) -> str:
    """``line`` with every character that is not printable (control characters, a newline
    inside a manifest string, lone surrogates, which no encoding accepts) replaced by its
    backslash escape: report lines hold untrusted manifest strings."""
    if line.isprintable():
        return line
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in line)


def _eval_line(e: dict) -> str:
    """One evaluation proof of an audit report (zkdl.eval_claim.audit_evaluations)."""
    what = (f"PROVEN {e['accuracy']:.4f} ({e['correct']} of {e['n_samples']} rows"
            f"{', test set public' if e.get('dataset_public') else ''})" if e["ok"] else "FAILS")
    return (f"{what}: {e['file']}" + (f" ({e['data']})" if e.get("data") else "")
            + (f"; test data {e['test_data']}" if e.get("test_data") else ""))


def text_report(r: dict) -> str:
    if r.get("format") == "zkdl-federated-audit/v1":
        from zkdl.federated_report import federated_text_report
        return federated_text_report(r)
    s = r["summary"]
    out = []
    verdict = "HOLDS" if r["ok"] else "DOES NOT HOLD"
    out.append(f"claim {r['claim']}: {verdict}")
    if s["steps"]:
        out.append(f"  steps       {s['steps'][0]}..{s['steps'][1] - 1} ({s['n_steps']} steps, {s['n_proofs']} proofs)"
                   + ("; the whole run" if s["whole_run"] else ""))
    hp = s.get("hyperparameters")
    if hp:
        out.append(f"  model       {hp['layers']}-layer MLP {hp['dims']}, loss {hp['loss']}")
        out.append(f"  method      {s.get('method')} {json.dumps(s.get('method_params') or {}, sort_keys=True)}")
        out.append(f"  training    batch {hp['batch_size']}, eta {hp['learning_rate']}, R={hp['R']}, Q={hp['Q']}, "
                   f"update_bits={hp['update_bits']}, seeds init {hp['init_seed']} batch {hp['batch_seed']}")
        out.append(f"  config      {s['config_digest']}")
    out.append(f"  mode        {'zero-knowledge' if s['zk'] else 'PLAIN (not zero-knowledge) or mixed'}")
    out.append(f"  dataset     {s['dataset_digest']} ({s['n_samples']} rows)")
    if s.get("frozen_digest"):
        out.append(f"  frozen base {s['frozen_digest']}")
    out.append(f"  W initial   {s['initial_weights_digest']}")
    out.append(f"  W final     {s['final_weights_digest']}")
    an = r.get("anchors") or {}
    out.append(f"  data        {an.get('dataset')}")
    out.append(f"  W[0]        {an.get('initial_weights')}")
    if an.get("frozen"):
        out.append(f"  base        {an.get('frozen')}")
    if an.get("model"):
        out.append(f"  model       {an['model']}")
    if r.get("proven_loss"):
        pl = r["proven_loss"]
        out.append(f"  loss        PROVEN per step: {pl[0]['loss']:.6g} at step {pl[0]['t']} -> {pl[-1]['loss']:.6g} "
                   f"at step {pl[-1]['t']}")
    for ev in r.get("evaluations") or []:
        out.append(f"  test acc.   {_eval_line(ev)}")
    out.append("  proofs:")
    for row in r["proofs"]:
        a, b = row["steps"]
        sec = "-" if row["verify_seconds"] is None else f"{row['verify_seconds']:.2f}s"
        mark = "ok  " if row["status"] == "ok" else "FAIL"
        out.append(f"    {mark} [{row['index']}] {row['file']}  steps {a}..{b - 1}  {sec}")
    if r["failures"]:
        out.append(f"  {len(r['failures'])} failure(s):")
        for f in r["failures"]:
            out.append(f"    {f['code']}: {f['location']}: {f['message']}")
    for n in r["notes"]:
        out.append(f"  note: {n}")
    t = r["timing"]
    how = f"as Ray tasks ({t['ray']})" if t.get("ray") else f"with {t['jobs']} job(s)"
    out.append(f"  audited in {t['wall_seconds']:.2f}s {how} "
               f"(sum of single verifications {t['verify_seconds_sum']:.2f}s)")
    if r["ok"]:
        an = r.get("anchors") or {}
        data = "the data file given (--data)" if "recomputed, matches" in str(an.get("dataset")) else "the committed dataset"
        w0 = ("the public initialization" if "recomputed, matches" in str(an.get("initial_weights"))
              else f"the committed W[{s['steps'][0]}]")
        wf = ("the released model (--model)" if str(an.get("model") or "").endswith("exactly the trained "
                                                                                    f"W[{s['steps'][1]}]")
              else f"the committed W[{s['steps'][1]}]")
        out.append(f"proven: steps {s['steps'][0]}..{s['steps'][1] - 1} of exact integer training "
                   f"({'SGD' if s.get('method') in (None, 'sgd_mlp') else s.get('method')}) with this config, "
                   f"from {w0} to {wf}, on {data}" + (", with the loss of every step" if r.get("proven_loss") else "")
                   + ("; and the test accuracy of that final model" if any(e["ok"] for e in r.get("evaluations") or [])
                      else ""))
    return "\n".join(_printable(line) for line in out)


def _svg_chain(rows: list[dict]) -> str:
    n = len(rows)
    bw, gap, h = 110, 30, 54
    width = max(n * (bw + gap), 200)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h + 30}" '
             f'viewBox="0 0 {width} {h + 30}" role="img" aria-label="proof chain">']
    for i, row in enumerate(rows):
        x = 10 + i * (bw + gap)
        color = "#2e7d32" if row["status"] == "ok" else "#c62828"
        a, b = row["steps"]
        parts.append(f'<rect x="{x}" y="10" width="{bw}" height="{h}" rx="6" fill="#fff" stroke="{color}" '
                     f'stroke-width="2"/>')
        parts.append(f'<text x="{x + bw / 2}" y="32" text-anchor="middle" font-size="12">#{i} steps {a}..{b - 1}</text>')
        parts.append(f'<text x="{x + bw / 2}" y="50" text-anchor="middle" font-size="11" fill="{color}">'
                     f'{"ok" if row["status"] == "ok" else "FAIL"}</text>')
        if i + 1 < n:
            nxt = rows[i + 1]
            lc = "#2e7d32" if nxt.get("link_ok") else "#c62828"
            x1, x2, y = x + bw, x + bw + gap, 10 + h / 2
            parts.append(f'<line x1="{x1}" y1="{y}" x2="{x2 - 4}" y2="{y}" stroke="{lc}" stroke-width="2"/>')
            parts.append(f'<polygon points="{x2},{y} {x2 - 7},{y - 4} {x2 - 7},{y + 4}" fill="{lc}"/>')
    parts.append("</svg>")
    return "".join(parts)


# ============================================================================ plots
# A plot is a dict: {"id", "title", "xlabel", "ylabel", "series": [(name, [(x, y), ...]), ...],
# "note"}; every x and y went through as_float (finite floats), every string is zkdl's own
# (nothing from the claim is drawn as text except numbers formatted here).
_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


def _finite_points(points) -> list[tuple[float, float]]:
    return [(fx, fy) for fx, fy in ((as_float(x), as_float(y)) for x, y in points)
            if fx is not None and fy is not None]


def _span(lo: float, hi: float) -> float:
    """hi - lo without overflowing (inf when the span is beyond a float)."""
    half = hi / 2 - lo / 2
    return half * 2 if half < 8.9e307 else math.inf


def nice_ticks(lo: float, hi: float, n: int = 5, integer: bool = False) -> list[float]:
    """About ``n`` round tick values (1, 2, 2.5 or 5 times a power of ten) covering lo..hi,
    the first <= lo and the last >= hi; just [lo, hi] for a span beyond a float."""
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    span = _span(lo, hi)
    if not math.isfinite(span) or span <= 0:
        return [lo, hi]
    raw = span / max(1, n)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-12))
    if integer:
        step = max(1.0, math.ceil(step))
    first = math.floor(lo / step) * step
    ticks = []
    k = 0
    while k < 4 * n + 4:
        v = first + k * step
        ticks.append(0.0 if abs(v) < step * 1e-9 else v)
        if v >= hi - step * 1e-9:
            break
        k += 1
    return ticks if len(ticks) >= 2 else [lo, hi]


def _fmt_tick(v: float) -> str:
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.4g}"


def _svg_plot(plot: dict, width: int = 560, height: int = 250) -> str:
    """A line plot drawn by zkdl itself: axes, round ticks with labels, axis labels, a title
    and a legend. Empty when no series has two drawable points."""
    e = html.escape
    series = [(name, _finite_points(pts)) for name, pts in plot["series"]]
    series = [(name, pts) for name, pts in series if pts]
    if not series or max(len(pts) for _, pts in series) < 2 and sum(len(pts) for _, pts in series) < 2:
        return ""
    xs = [x for _, pts in series for x, _ in pts]
    ys = [y for _, pts in series for _, y in pts]
    xt = nice_ticks(min(xs), max(xs), 6, integer=True)
    yt = nice_ticks(min(ys), max(ys), 5)
    left, right, top, bottom = 64, 16, 30, 46 + 16 * ((len(series) + 1) // 2 if len(series) > 1 else 0)
    pw, ph = width - left - right, height - top - bottom
    x0, x1, y0, y1 = xt[0], xt[-1], yt[0], yt[-1]

    def frac(v, lo, hi):
        d = hi / 2 - lo / 2
        return (v / 2 - lo / 2) / d if d else 0.5

    def px(x):
        return left + frac(x, x0, x1) * pw

    def py(y):
        return top + ph - frac(y, y0, y1) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" id="{e(plot["id"])}" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{e(plot["title"])}" '
           f'font-family="sans-serif">',
           f'<title>{e(plot["title"])}</title>',
           f'<rect width="{width}" height="{height}" fill="#fff"/>',
           f'<text class="title" x="{left + pw / 2:.1f}" y="18" text-anchor="middle" font-size="13" '
           f'font-weight="bold">{e(plot["title"])}</text>']
    for v in yt:   # horizontal grid lines and y tick labels
        y = py(v)
        out.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        out.append(f'<line class="tick" x1="{left - 5}" y1="{y:.1f}" x2="{left}" y2="{y:.1f}" stroke="#333"/>')
        out.append(f'<text class="ytick" x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
                   f'{e(_fmt_tick(v))}</text>')
    for v in xt:
        x = px(v)
        out.append(f'<line class="tick" x1="{x:.1f}" y1="{top + ph}" x2="{x:.1f}" y2="{top + ph + 5}" stroke="#333"/>')
        out.append(f'<text class="xtick" x="{x:.1f}" y="{top + ph + 18}" text-anchor="middle" font-size="11">'
                   f'{e(_fmt_tick(v))}</text>')
    out.append(f'<line class="axis x-axis" x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" '
               f'stroke="#333"/>')
    out.append(f'<line class="axis y-axis" x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#333"/>')
    out.append(f'<text class="xlabel" x="{left + pw / 2:.1f}" y="{top + ph + 34}" text-anchor="middle" '
               f'font-size="12">{e(plot["xlabel"])}</text>')
    out.append(f'<text class="ylabel" x="14" y="{top + ph / 2:.1f}" text-anchor="middle" font-size="12" '
               f'transform="rotate(-90 14 {top + ph / 2:.1f})">{e(plot["ylabel"])}</text>')
    for k, (name, pts) in enumerate(series):
        color = _COLORS[k % len(_COLORS)]
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in sorted(pts))
        out.append(f'<polyline class="series" points="{coords}" fill="none" stroke="{color}" stroke-width="2">'
                   f'<title>{e(name)}</title></polyline>')
        if len(pts) <= 60:
            out += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" fill="{color}"/>' for x, y in pts]
        if len(series) > 1:
            lx = left + (k % 2) * (pw / 2)
            ly = top + ph + 50 + 16 * (k // 2)
            out.append(f'<line x1="{lx:.1f}" y1="{ly - 4}" x2="{lx + 18:.1f}" y2="{ly - 4}" stroke="{color}" '
                       f'stroke-width="2"/><text class="legend" x="{lx + 24:.1f}" y="{ly}" font-size="11">'
                       f'{e(name)}</text>')
    out.append("</svg>")
    return "".join(out)


def _matplotlib_svg(plot: dict) -> str | None:
    """The plot drawn by matplotlib as inline SVG (text kept as text, no external DTD);
    None when matplotlib is not installed or fails."""
    try:
        import matplotlib
        from matplotlib.backends.backend_svg import FigureCanvasSVG
        from matplotlib.figure import Figure
    except Exception:  # noqa: BLE001 - optional (the [plots] extra)
        return None
    import io
    series = [(name, sorted(_finite_points(pts))) for name, pts in plot["series"]]
    series = [(name, pts) for name, pts in series if pts]
    if not series or sum(len(pts) for _, pts in series) < 2:
        return ""
    try:
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"zkdl-{plot['id']}",
                                    "text.usetex": False, "axes.formatter.useoffset": False}):
            fig = Figure(figsize=(6.4, 2.8), dpi=96)
            FigureCanvasSVG(fig)
            ax = fig.add_subplot()
            for k, (name, pts) in enumerate(series):
                ax.plot([x for x, _ in pts], [y for _, y in pts], marker="o" if len(pts) <= 60 else None,
                        markersize=3, color=_COLORS[k % len(_COLORS)], label=name.replace("$", r"\$"))
            ax.set_title(plot["title"].replace("$", r"\$"), fontsize=11)
            ax.set_xlabel(plot["xlabel"])
            ax.set_ylabel(plot["ylabel"])
            ax.grid(True, color="#e5e5e5")
            ax.xaxis.get_major_locator().set_params(integer=True)
            if len(series) > 1:
                ax.legend(fontsize=8)
            fig.tight_layout()
            buf = io.StringIO()
            fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    except Exception:  # noqa: BLE001 - a plotting failure falls back to zkdl's own drawing
        return None
    text = buf.getvalue()
    start = text.find("<svg")
    if start < 0:
        return None
    svg = text[start:]  # without the XML declaration and the DOCTYPE (an external DTD reference)
    # matplotlib numbers its element ids per figure (figure_1, axes_1, ...): prefix them with the
    # plot's id so that the ids stay unique on a page of several plots, references included
    import re
    pre = re.sub(r"[^A-Za-z0-9_-]", "_", plot["id"]) + "-"
    svg = re.sub(r'\bid="([^"]+)"', lambda mo: f'id="{pre}{mo.group(1)}"', svg)
    svg = re.sub(r'url\(#([^)]+)\)', lambda mo: f"url(#{pre}{mo.group(1)})", svg)
    svg = re.sub(r'((?:xlink:)?href)="#([^"]+)"', lambda mo: f'{mo.group(1)}="#{pre}{mo.group(2)}"', svg)
    return svg.replace("<svg ", f'<svg class="plot" id="{html.escape(plot["id"])}" role="img" '
                                f'aria-label="{html.escape(plot["title"])}" ', 1)


def render_plot(plot: dict, engine: str = "auto") -> str:
    """Inline SVG of ``plot``: matplotlib where installed (``engine`` "auto" or
    "matplotlib"), else (or with "builtin") zkdl's own drawing."""
    if engine in ("auto", "matplotlib"):
        svg = _matplotlib_svg(plot)
        if svg is not None:
            return svg
    return _svg_plot(plot)


def report_plots(r: dict) -> list[dict]:
    """The plots of an audit report: the training loss (proven, or reported by the prover:
    the title says which), the held-out evaluation accuracy when the prover's summary has
    it, and the time per step (verification in this audit; proving from the prover's
    summary when present)."""
    plots = []
    metrics = r.get("metrics") if isinstance(r.get("metrics"), dict) else {}
    training = metrics.get("training") if isinstance(metrics.get("training"), list) else []
    reported = [(t.get("t"), t.get("loss")) for t in training if isinstance(t, dict) and type(t.get("t")) is int]
    proven = r.get("proven_loss")
    if proven:
        plots.append({"id": "plot-loss", "title": "Training loss per step (PROVEN)", "xlabel": "step",
                      "ylabel": "loss (proven)", "series": [("proven loss", [(p["t"], p["loss"]) for p in proven])],
                      "note": "a public output of the proofs, checked by the verifier"})
    elif reported:
        plots.append({"id": "plot-loss", "title": "Training loss per step (reported, NOT proven)",
                      "xlabel": "step", "ylabel": "loss (reported)", "series": [("reported loss", reported)],
                      "note": "reported by the prover in the manifest; not checked by the proofs"})
    ps = r.get("prover_summary") if isinstance(r.get("prover_summary"), dict) else {}
    hist = ps.get("evaluation") if isinstance(ps.get("evaluation"), list) else []
    acc = [(h.get("step"), h.get("accuracy")) for h in hist if isinstance(h, dict)]
    if acc:
        plots.append({"id": "plot-eval", "title": "Held-out accuracy (reported, NOT proven)", "xlabel": "step",
                      "ylabel": "eval accuracy", "series": [("eval accuracy", acc)],
                      "note": "from the prover's summary.json next to the claim (its held-out evaluation); "
                              "not part of the claim, not proven"})
    verify_pts, prove_pts = [], []
    for row in r.get("proofs") or []:
        a, b = row["steps"]
        if isinstance(a, int) and isinstance(b, int) and b > a and row.get("verify_seconds") is not None:
            verify_pts.append((a, row["verify_seconds"] / (b - a)))
    for e in ps.get("proofs") or []:
        if isinstance(e, dict) and isinstance(e.get("steps"), list) and len(e["steps"]) == 2:
            a, b = e["steps"]
            if type(a) is int and type(b) is int and b > a and as_float(e.get("prove_seconds")) is not None:
                prove_pts.append((a, e["prove_seconds"] / (b - a)))
    series = ([("proving (prover's summary.json)", prove_pts)] if prove_pts else []) + \
        ([("verification (this audit)", verify_pts)] if verify_pts else [])
    if series:
        plots.append({"id": "plot-time", "title": "Proof time per step", "xlabel": "step (first of its proof)",
                      "ylabel": "seconds per step", "series": series,
                      "note": "each proof's time divided by its steps"})
    return plots


def _svg_metric(points: list[tuple[int, float]], label: str) -> str:
    """One metric over the steps, drawn by zkdl's own code (kept for callers of the old
    helper): a plot with axes, ticks and labels."""
    pts = _finite_points(points)
    if len(pts) < 2:
        return ""
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return _svg_plot({"id": "plot-metric", "title": f"{label}: {min(ys):.4g} .. {max(ys):.4g} over steps "
                                                     f"{min(xs):.0f}..{max(xs):.0f}",
                      "xlabel": "step", "ylabel": label, "series": [(label, pts)]})


def html_report(r: dict, plot_engine: str = "auto") -> str:
    if r.get("format") == "zkdl-federated-audit/v1":
        from zkdl.federated_report import federated_html_report
        return federated_html_report(r)
    e = html.escape
    s = r["summary"]
    hp = s.get("hyperparameters") or {}
    verdict = "HOLDS" if r["ok"] else "DOES NOT HOLD"
    vcolor = "#2e7d32" if r["ok"] else "#c62828"
    summary_rows = [
        ("Verdict", f'<b style="color:{vcolor}">{verdict}</b>'),
        ("Steps", e(f"{s['steps'][0]}..{s['steps'][1] - 1} ({s['n_steps']} steps, {s['n_proofs']} proofs)"
                    + ("; the whole run" if s["whole_run"] else "")) if s["steps"] else "?"),
        ("Model", e(f"{hp.get('layers')}-layer MLP {hp.get('dims')}, loss {hp.get('loss')}")),
        ("Training method", e(f"{s.get('method')} {json.dumps(s.get('method_params') or {}, sort_keys=True)}")),
        ("Hyperparameters", e(f"batch {hp.get('batch_size')}, eta {hp.get('learning_rate')}, R={hp.get('R')}, Q={hp.get('Q')}, "
                  f"update_bits={hp.get('update_bits')}, seeds init {hp.get('init_seed')} batch {hp.get('batch_seed')}")),
        ("Config digest", f"<code>{e(str(s['config_digest']))}</code>"),
        ("Mode", "zero-knowledge" if s["zk"] else "PLAIN (not zero-knowledge) or mixed"),
        ("Dataset commitment", f"<code>{e(str(s['dataset_digest']))}</code> ({e(str(s['n_samples']))} rows)"),
        *([("Frozen base commitment", f"<code>{e(str(s['frozen_digest']))}</code>")] if s.get("frozen_digest") else []),
        ("Initial weights", f"<code>{e(str(s['initial_weights_digest']))}</code>"),
        ("Final weights", f"<code>{e(str(s['final_weights_digest']))}</code>"),
        ("Dataset anchor", e(str((r.get("anchors") or {}).get("dataset")))),
        ("Initial-weights anchor", e(str((r.get("anchors") or {}).get("initial_weights")))),
        *([("Frozen-base anchor", e(str(r["anchors"]["frozen"])))] if (r.get("anchors") or {}).get("frozen") else []),
        ("Released model", e(str((r.get("anchors") or {}).get("model") or "not checked"))),
        *[("Test accuracy", e(_eval_line(ev))) for ev in r.get("evaluations") or []],
        ("Audit time", e(f"{r['timing']['wall_seconds']:.2f}s, {r['timing']['jobs']} job(s); sum of single "
                         f"verifications {r['timing']['verify_seconds_sum']:.2f}s")),
    ]
    body = [f"<h1>zkdl claim audit: <span style=\"color:{vcolor}\">{verdict}</span></h1>",
            f"<p>Claim directory <code>{e(r['claim'])}</code>, audited by zkdl {e(r['zkdl_version'])}.</p>",
            '<h2>Summary</h2><table id="summary">']
    body += [f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in summary_rows]
    body.append("</table>")
    body.append('<h2>Chain</h2><div class="chain">' + _svg_chain(r["proofs"]) + "</div>")
    body.append('<h2>Proofs</h2><table id="proofs"><thead><tr><th>#</th><th>file</th><th>steps</th>'
                "<th>digest</th><th>verified</th><th>linked</th><th>range checks</th><th>time</th>"
                "<th>status</th></tr></thead><tbody>")
    for row in r["proofs"]:
        st = row["statement"] or {}
        rc = ("W, data" if st.get("initial_weights_range_checked") else "inherited") if st else "-"
        link = "-" if row["link_ok"] is None else ("yes" if row["link_ok"] else "NO")
        a, b = row["steps"]
        cls = "ok" if row["status"] == "ok" else "fail"
        sec = "-" if row["verify_seconds"] is None else f"{row['verify_seconds']:.2f}s"
        body.append(f'<tr class="proof {cls}"><td>{row["index"]}</td><td><code>{e(row["file"])}</code></td>'
                    f"<td>{a}..{b - 1}</td><td>{'match' if row['digest_ok'] else 'MISMATCH'}</td>"
                    f"<td>{'valid' if row['valid'] else e('INVALID: ' + str(row['reason']))}</td>"
                    f"<td>{link}</td><td>{rc}</td>"
                    f"<td>{sec}</td>"
                    f"<td>{cls.upper()}</td></tr>")
    body.append("</tbody></table>")
    if r["failures"]:
        body.append('<h2>Failures</h2><ul id="failures">')
        body += [f"<li><b>{e(f['code'])}</b> at <code>{e(f['location'])}</code>: {e(f['message'])}</li>"
                 for f in r["failures"]]
        body.append("</ul>")
    if r["notes"]:
        body.append("<h2>Notes</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in r["notes"]) + "</ul>")
    plots = report_plots(r)
    drawn = [(p, render_plot(p, plot_engine)) for p in plots]
    drawn = [(p, svg) for p, svg in drawn if svg]
    if drawn or r.get("proven_loss") or (r.get("metrics") or {}).get("training"):
        body.append("<h2>Metrics</h2>")
        if r.get("proven_loss"):
            body.append('<p id="proven-metric">The training loss of every step is <b>proven</b> '
                        "(a public output of the proofs, checked by the verifier): proven loss.</p>")
        else:
            body.append("<p>No metric is proven by these proofs; any loss or accuracy below is reported by the "
                        "prover (unverified).</p>")
        for p, svg in drawn:
            body.append(f"<figure>{svg}<figcaption>{e(p['note'])}.</figcaption></figure>")
    css = ("body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin:.5em 0}"
           "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}tr.fail td{background:#fdecea}"
           "code{font-size:.9em}figure{margin:1em 0}figcaption{font-size:.85em;color:#555}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>zkdl claim audit</title>"
            f"<style>{css}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
