"""The plots of `zkdl audit --html` (issue 18): loss (proven or reported, and said which),
held-out accuracy from the prover's summary, proof time per step; drawn by matplotlib
where installed, by zkdl's own SVG code otherwise; axes, ticks, labels and a title; the
page self-contained and every claim string escaped. A headless browser screenshot where
one is installed (scripts/report-screenshot.py does the same by hand)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from zkdl import report as R

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script>&'


def fake_report(proven=True, evaluation=True, claim=HOSTILE) -> dict:
    rows = [{"index": i, "file": f"proofs/{HOSTILE}{i}.zkdl", "steps": [2 * i, 2 * i + 2], "status": "ok",
             "statement": {"initial_weights_range_checked": i == 0}, "link_ok": None if i == 0 else True,
             "digest_ok": True, "valid": True, "reason": None, "verify_seconds": 1.0 + 0.25 * i}
            for i in range(4)]
    r = {"format": "zkdl-audit/v1", "zkdl_version": "0.1.0", "claim": claim, "ok": True,
         "summary": {"steps": [0, 8], "n_steps": 8, "n_proofs": 4, "whole_run": True, "hyperparameters": {},
                     "config_digest": "ab" * 32, "zk": True, "dataset_digest": "cd" * 32, "n_samples": 128,
                     "initial_weights_digest": "ef" * 32, "final_weights_digest": "01" * 32,
                     "method": HOSTILE, "method_params": {HOSTILE: 1}},
         "proofs": rows, "failures": [{"code": "x", "location": HOSTILE, "message": HOSTILE}], "notes": [HOSTILE],
         "metrics": {"proven": proven, "training": [{"t": t, "loss": 1.0 / (t + 1)} for t in range(8)]},
         "anchors": {"dataset": HOSTILE}, "proven_loss": [{"t": t, "loss_sum": 0, "loss": 2.0 / (t + 2)}
                                                          for t in range(8)] if proven else None,
         "timing": {"wall_seconds": 1.0, "verify_seconds_sum": 2.0, "jobs": 1}}
    if evaluation:
        r["prover_summary"] = {"evaluation": [{"step": 0, "accuracy": 0.25}, {"step": 4, "accuracy": 0.5},
                                              {"step": 8, "accuracy": 0.625}],
                               "proofs": [{"steps": [2 * i, 2 * i + 2], "prove_seconds": 3.0 + i} for i in range(4)]}
    return r


def svg_texts(svg: str) -> tuple[ET.Element, list[str]]:
    root = ET.fromstring(svg)   # well-formed XML
    assert root.tag == SVG + "svg"
    return root, ["".join(t.itertext()).strip() for t in root.iter(SVG + "text")]


def test_nice_ticks():
    assert R.nice_ticks(0, 7, 6, integer=True) == [0, 2, 4, 6, 8]
    assert R.nice_ticks(0, 5, 6, integer=True) == [0, 1, 2, 3, 4, 5]
    t = R.nice_ticks(0.23, 0.91)
    assert t[0] <= 0.23 and t[-1] >= 0.91 and 3 <= len(t) <= 9
    steps = {round(b - a, 9) for a, b in zip(t, t[1:])}
    assert len(steps) == 1
    assert R.nice_ticks(5, 5)[0] < 5 < R.nice_ticks(5, 5)[-1]              # one value: a padded range
    assert R.nice_ticks(-1.7e308, 1.7e308) == [-1.7e308, 1.7e308]          # a span beyond a float
    assert all(isinstance(v, float) or isinstance(v, int) for v in R.nice_ticks(1e-12, 3e-12))


def test_builtin_plot_has_axes_ticks_labels_title():
    plots = R.report_plots(fake_report())
    assert [p["id"] for p in plots] == ["plot-loss", "plot-eval", "plot-time"]
    assert "PROVEN" in plots[0]["title"] and "NOT proven" in plots[1]["title"]
    for p in plots:
        svg = R.render_plot(p, "builtin")
        root, texts = svg_texts(svg)
        classes = [el.get("class") for el in root.iter()]
        assert "axis x-axis" in classes and "axis y-axis" in classes
        xt = [t.text for t in root.iter(SVG + "text") if t.get("class") == "xtick"]
        yt = [t.text for t in root.iter(SVG + "text") if t.get("class") == "ytick"]
        assert len(xt) >= 3 and len(yt) >= 3
        assert all(float(v) == float(v) for v in xt + yt)   # numbers
        assert p["title"] in texts and p["xlabel"] in texts and p["ylabel"] in texts
        assert classes.count("series") == len(p["series"])
    time_svg = R.render_plot(plots[2], "builtin")
    assert "verification (this audit)" in time_svg and "proving (prover&#x27;s summary.json)" in time_svg


def test_reported_loss_says_not_proven():
    plots = R.report_plots(fake_report(proven=False, evaluation=False))
    assert [p["id"] for p in plots] == ["plot-loss", "plot-time"]
    assert plots[0]["title"] == "Training loss per step (reported, NOT proven)"
    assert [name for name, _ in plots[1]["series"]] == ["verification (this audit)"]


def test_hostile_numbers_are_dropped():
    plot = {"id": "p", "title": "t", "xlabel": "x", "ylabel": "y",
            "series": [("s", [(0, 1.0), (1, 10 ** 400), (1 << 2000, 0.5), (2, float("nan")), (3, 0.25),
                              ("4", 1.0), (5, True)])]}
    root, texts = svg_texts(R.render_plot(plot, "builtin"))
    pts = [el.get("points") for el in root.iter(SVG + "polyline")][0].split()
    assert len(pts) == 2   # (0, 1.0) and (3, 0.25) only
    assert R._svg_plot({**plot, "series": [("s", [(0, float("inf"))])]}) == ""
    wide = R._svg_plot({**plot, "series": [("s", [(0, -1.7e308), (1, 1.7e308)])]})
    svg_texts(wide)


def html_parts(page: str):
    class P(HTMLParser):
        def __init__(self):
            super().__init__()
            self.external, self.tags, self.text = [], [], []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)
            for k, v in attrs:
                if k in ("src", "href", "xlink:href") and v and not v.startswith("#"):
                    self.external.append(v)

        def handle_data(self, data):
            self.text.append(data)
    p = P()
    p.feed(page)
    p.close()
    return p


@pytest.mark.parametrize("engine", ["builtin", "matplotlib"])
def test_html_self_contained_and_escaped(engine):
    if engine == "matplotlib":
        pytest.importorskip("matplotlib", reason="matplotlib (the [plots] extra) is not installed")
    page = R.html_report(fake_report(), plot_engine=engine)
    p = html_parts(page)
    assert not p.external and "script" not in p.tags and "<!DOCTYPE svg" not in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert p.tags.count("svg") == 4   # the chain and three plots
    import re
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))   # unique on the page (matplotlib numbers its ids per figure)
    refs = set(re.findall(r'url\(#([^)]+)\)', page)) | set(re.findall(r'href="#([^"]+)"', page))
    assert refs <= set(ids)
    assert 'id="proven-metric"' in page
    for pid in ("plot-loss", "plot-eval", "plot-time"):
        start = page.index(f'id="{pid}"')
        svg = page[page.rindex("<svg", 0, start):page.index("</svg>", start) + len("</svg>")]
        _, texts = svg_texts(svg)
        assert any(t in ("step", "step (first of its proof)") for t in texts)   # axis labels as text
        assert sum(1 for t in texts if t.replace(".", "").replace("−", "").replace("-", "").isdigit()) >= 4


def test_matplotlib_missing_falls_back(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import matplotlib raises ImportError
    plot = R.report_plots(fake_report())[0]
    svg = R.render_plot(plot)
    assert 'class="axis x-axis"' in svg   # zkdl's own drawing


def test_matplotlib_svg_when_installed():
    pytest.importorskip("matplotlib", reason="matplotlib (the [plots] extra) is not installed")
    plot = R.report_plots(fake_report())[0]
    svg = R.render_plot(plot, "matplotlib")
    root, texts = svg_texts(svg)
    assert plot["title"] in texts and "step" in texts and "loss (proven)" in texts
    assert svg.startswith("<svg ") and 'id="plot-loss"' in svg
    assert R.render_plot(plot, "matplotlib") == svg   # deterministic (no date, fixed ids)


def test_prover_summary_only_beside_its_own_claim(tmp_path):
    from zkdl.audit import _prover_summary
    from zkdl.config import TrainConfig
    cfg = TrainConfig(n_features=4, n_classes=2)
    out = tmp_path / "run"
    (out / "claim").mkdir(parents=True)
    summary = {"config_digest": cfg.digest(), "evaluation": {"history": [{"step": 0, "accuracy": 0.5}]},
               "proofs": [{"steps": [0, 1], "prove_seconds": 2.0}]}
    (out / "summary.json").write_text(json.dumps(summary))
    ps = _prover_summary(str(out / "claim"), {"config": cfg.to_dict()})
    assert ps["evaluation"][0]["accuracy"] == 0.5 and ps["proofs"][0]["prove_seconds"] == 2.0
    other = TrainConfig(n_features=4, n_classes=3)
    assert _prover_summary(str(out / "claim"), {"config": other.to_dict()}) is None   # another run's summary
    assert _prover_summary(str(out / "claim"), {"config": "garbage"}) is None
    (tmp_path / "elsewhere").mkdir()
    assert _prover_summary(str(tmp_path / "elsewhere"), {"config": cfg.to_dict()}) is None


def _browser():
    for name in ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.skipif(_browser() is None, reason="no headless browser installed (chromium-headless-shell, chromium); "
                                               "scripts/report-screenshot.py does this check where one is")
def test_headless_browser_screenshot(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(R.html_report(fake_report(), plot_engine="builtin"), encoding="utf-8")
    png = tmp_path / "report.png"
    subprocess.run([_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--proxy-server=127.0.0.1:9",
                    "--window-size=1000,1800", f"--screenshot={png}", f"file://{page}"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    try:
        from PIL import Image
    except ImportError:
        return
    im = Image.open(png).convert("RGB")
    colors = im.getcolors(1 << 20) or []
    assert any(c[:3] == (0x1f, 0x77, 0xb4) or abs(c[0] - 0x1f) + abs(c[1] - 0x77) + abs(c[2] - 0xb4) < 30
               for _, c in colors)   # a plotted series is on the page
    assert os.path.getsize(png) > 0
