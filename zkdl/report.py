"""Audit reports: the text report of ``zkdl audit`` and the self-contained HTML page.

Both render the report dict of :func:`zkdl.audit.audit_claim` (format ``zkdl-audit/v1``,
docs/FORMAT.md section 5). Every string that comes from a manifest is untrusted: text
lines escape what is not printable, HTML escapes everything.
"""

from __future__ import annotations

import html
import json

from zkdl.audit import as_float


def _printable(line: str) -> str:
    """``line`` with every character that is not printable (control characters, a newline
    inside a manifest string, lone surrogates, which no encoding accepts) replaced by its
    backslash escape: report lines hold untrusted manifest strings."""
    if line.isprintable():
        return line
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in line)


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
    out.append(f"  audited in {t['wall_seconds']:.2f}s with {t['jobs']} job(s) "
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
                   f"from {w0} to {wf}, on {data}" + (", with the loss of every step" if r.get("proven_loss") else ""))
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


def _svg_metric(points: list[tuple[int, float]], label: str) -> str:
    # the points may be the manifest's reported metrics (untrusted): only steps and values that
    # are finite floats are drawn, and scaled by halves so that no difference overflows
    points = [(fx, fy) for fx, fy in ((as_float(x), as_float(y)) for x, y in points)
              if fx is not None and fy is not None]
    if len(points) < 2:
        return ""
    w, h, pad = 480, 160, 30
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)

    def frac(v, lo, hi):
        return (v / 2 - lo / 2) / ((hi / 2 - lo / 2) or 1.0)

    pts = " ".join(f"{pad + frac(x, x0, x1) * (w - 2 * pad):.1f},{h - pad - frac(y, y0, y1) * (h - 2 * pad):.1f}"
                   for x, y in points)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
            f'aria-label="{html.escape(label)}"><rect width="{w}" height="{h}" fill="#fafafa"/>'
            f'<polyline points="{pts}" fill="none" stroke="#555" stroke-width="2"/>'
            f'<text x="{pad}" y="18" font-size="12">{html.escape(label)}: {y0:.4g} .. {y1:.4g} over steps '
            f'{x0:.0f}..{x1:.0f}</text></svg>')


def html_report(r: dict) -> str:
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
    metrics = r.get("metrics") or {}
    training = metrics.get("training") if isinstance(metrics.get("training"), list) else []
    pts = [(t["t"], t["loss"]) for t in training if isinstance(t, dict) and isinstance(t.get("t"), int)
           and isinstance(t.get("loss"), (int, float))]
    proven = r.get("proven_loss")
    if proven:
        body.append('<h2>Metrics</h2><p id="proven-metric">The training loss of every step is <b>proven</b> '
                    "(a public output of the proofs, checked by the verifier).</p>"
                    + _svg_metric([(p["t"], p["loss"]) for p in proven], "proven loss"))
    elif pts:
        body.append("<h2>Metrics</h2><p>No metric is proven by these proofs; the loss below is reported by the "
                    "prover (unverified).</p>" + _svg_metric(pts, "reported loss (not proven)"))
    css = ("body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin:.5em 0}"
           "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}tr.fail td{background:#fdecea}"
           "code{font-size:.9em}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>zkdl claim audit</title>"
            f"<style>{css}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
