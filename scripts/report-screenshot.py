#!/usr/bin/env python3
"""Render `zkdl audit --html` pages in a real headless browser and save screenshots.

    python scripts/report-screenshot.py [CLAIM_OR_RUN_DIR] [-o OUTDIR]

Without a claim it trains and proves a small run first (a held-out split and
--prove-loss, so that every plot of the report has data). It audits the claim once,
writes the report twice (plots by matplotlib where installed, and by zkdl's own SVG
code), opens each page in a headless browser (chromium-headless-shell, chromium,
google-chrome or firefox, the first found on PATH; or $BROWSER) and writes
OUTDIR/report-<engine>.html and .png. The pages are opened with the network off
(a self-contained report needs none). Exit 2 when no browser is found.

Where no browser is installed: on Debian, `apt-get install chromium-headless-shell`
(or `chromium`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def find_browser() -> list[str] | None:
    env = os.environ.get("BROWSER")
    names = ([env] if env else []) + ["chromium-headless-shell", "chromium", "chromium-browser", "google-chrome",
                                      "firefox", "firefox-esr"]
    for name in names:
        path = shutil.which(name)
        if path:
            return [path]
    return None


def screenshot(browser: list[str], html_path: str, png_path: str, width: int = 1100, height: int = 2400) -> None:
    url = "file://" + os.path.abspath(html_path)
    if "firefox" in os.path.basename(browser[0]):
        cmd = browser + ["--headless", f"--window-size={width},{height}", "--screenshot", os.path.abspath(png_path),
                         url]
    else:
        cmd = browser + ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                         "--proxy-server=127.0.0.1:9",  # no network: any external fetch would fail
                         f"--window-size={width},{height}", f"--screenshot={os.path.abspath(png_path)}", url]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    if not os.path.isfile(png_path) or os.path.getsize(png_path) == 0:
        raise SystemExit(f"{browser[0]} wrote no screenshot for {html_path}")


def demo_claim(workdir: str) -> str:
    out = os.path.join(workdir, "run")
    cmd = [sys.executable, "-m", "zkdl", "train", "--width", "8", "--layers", "3", "--batch-size", "16",
           "--data", "synthetic:160", "--eval-split", "0.2", "--epochs", "1", "--window", "2", "--prove-loss",
           "--out", out, "--quiet"]
    subprocess.run(cmd, check=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("claim", nargs="?", help="a claim or a zkdl train/prove output directory [default: a demo run]")
    ap.add_argument("-o", "--out", default="report-screenshots", help="where the pages and PNGs go")
    args = ap.parse_args()
    browser = find_browser()
    if browser is None:
        print("no headless browser found (chromium-headless-shell, chromium, google-chrome, firefox); "
              "install one, e.g. `apt-get install chromium-headless-shell`, or set $BROWSER", file=sys.stderr)
        return 2
    from zkdl.audit import MANIFEST, audit_claim
    from zkdl.report import html_report
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        claim = args.claim or demo_claim(tmp)
        if not os.path.exists(os.path.join(claim, MANIFEST)) and os.path.exists(os.path.join(claim, "claim", MANIFEST)):
            claim = os.path.join(claim, "claim")
        report = audit_claim(claim, jobs=2)
        for engine in ("matplotlib", "builtin"):
            page = os.path.join(args.out, f"report-{engine}.html")
            with open(page, "w", encoding="utf-8", errors="backslashreplace") as fh:
                fh.write(html_report(report, plot_engine=engine))
            png = os.path.join(args.out, f"report-{engine}.png")
            screenshot(browser, page, png)
            print(f"{png}  ({os.path.getsize(png)} bytes, {browser[0]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
