"""Text and HTML reports of a federated audit (:func:`zkdl.federated_audit.audit_federated`).
Manifest strings are untrusted: text lines escape what is not printable, HTML escapes all."""

from __future__ import annotations

import html

__all__ = ["federated_text_report", "federated_html_report"]


def _p(line: str) -> str:
    return line if line.isprintable() else "".join(c if c.isprintable() else ascii(c)[1:-1] for c in line)


def federated_text_report(r: dict) -> str:
    s = r["summary"]
    out = [f"federated claim {r['claim']}: {'HOLDS' if r['ok'] else 'DOES NOT HOLD'}",
           f"  method      {s['method']} ({s['clients']} clients, {s['rounds']} rounds, {s['local_steps']} local "
           f"step(s), {s['participants_per_round']} participant(s) per round, weights a/2^{s['shift']}, "
           f"beta {s['beta'][0]}/2^{s['beta'][1]})",
           f"  mode        {'zero-knowledge' if s['zk'] else 'PLAIN (not zero-knowledge)'}",
           f"  W_0         {s['initial_weights_digest']}",
           f"  W_final     {s['final_weights_digest']}",
           f"  proofs      {s['n_proofs']} (client rounds and aggregations)",
           "  rounds:"]
    for row in r["rounds"]:
        stale = ", ".join(f"{e['client']}<-r{e['from_round']}" for e in row["stale"]) or "-"
        out.append(f"    round {row['round']}: participants {row['participants']}, stale {stale}")
        for c in row["clients"]:
            link = {True: "starts from W_r", False: "NOT from W_r", None: "-"}[c["link_ok"]]
            out.append(_p(f"      {c.get('status', '?'):<4} client {c['client']}  {c['file']}  "
                          f"{'valid' if c['valid'] else 'INVALID'}, {link}"))
        a = row["aggregation"]
        if a is not None:
            links = {True: "inputs and output linked", False: "LINKS BROKEN", None: "-"}[a["links_ok"]]
            out.append(_p(f"      {a.get('status', '?'):<4} aggregation  {a['file']}  "
                          f"{'valid' if a['valid'] else 'INVALID'}, {a['inputs']} inputs, {links}"))
    if r["failures"]:
        out.append(f"  failures ({len(r['failures'])}):")
        for f in r["failures"]:
            out.append(_p(f"    [{f['code']}] {f['location']}: {f['message']}"))
    for n in r["notes"]:
        out.append(_p(f"  note: {n}"))
    t = r["timing"]
    out.append(f"  audited in {t['wall_seconds']:.2f}s (verification {t['verify_seconds_sum']:.2f}s summed)")
    return "\n".join(out)


def federated_html_report(r: dict) -> str:
    e = html.escape
    s = r["summary"]
    verdict = "HOLDS" if r["ok"] else "DOES NOT HOLD"
    rows = []
    for row in r["rounds"]:
        for c in row["clients"]:
            rows.append(f"<tr class='{e(c.get('status', ''))}'><td>{row['round']}</td><td>client {e(str(c['client']))}"
                        f"</td><td>{e(c['file'])}</td><td>{'valid' if c['valid'] else 'INVALID'}</td>"
                        f"<td>{e(str(c['link_ok']))}</td></tr>")
        a = row["aggregation"]
        if a is not None:
            rows.append(f"<tr class='{e(a.get('status', ''))}'><td>{row['round']}</td><td>aggregation</td>"
                        f"<td>{e(a['file'])}</td><td>{'valid' if a['valid'] else 'INVALID'}</td>"
                        f"<td>{e(str(a['links_ok']))}</td></tr>")
    fails = "".join(f"<li><b>{e(f['code'])}</b> {e(f['location'])}: {e(f['message'])}</li>" for f in r["failures"])
    notes = "".join(f"<li>{e(n)}</li>" for n in r["notes"])
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>zkdl federated audit</title><style>"
            f"body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;"
            f"padding:3px 8px}}tr.fail{{background:#fdd}}tr.ok{{background:#efe}}</style></head><body>"
            f"<h1>Federated claim: {verdict}</h1><p>{e(r['claim'])}</p>"
            f"<p>{e(s['method'])}: {s['clients']} clients, {s['rounds']} rounds, {s['local_steps']} local step(s), "
            f"{s['participants_per_round']} participant(s) per round; mode "
            f"{'zero-knowledge' if s['zk'] else 'PLAIN'}</p>"
            f"<p>W_0 {e(s['initial_weights_digest'])}<br>W_final {e(s['final_weights_digest'])}</p>"
            f"<table><tr><th>round</th><th>proof</th><th>file</th><th>verified</th><th>linked</th></tr>"
            f"{''.join(rows)}</table>"
            f"<h2>Failures ({len(r['failures'])})</h2><ul>{fails}</ul><h2>Notes</h2><ul>{notes}</ul></body></html>")
