"""Renders three pages of the built site in headless Chromium and checks what a reader would see: on notebook 01's
page equations typeset by MathJax (each an SVG with a size, no TeX error) and its figures loaded (images with a
natural size, shown); on notebook 00's page the plotly figure drawn (offline: plotly.js is the site's own) with one
MathJax; on the home page (the course page) tables laid out with rows. Saves a screenshot and the rendered DOM of each page
under site/_build/check/ (ignored) to look at.

Run by hand, not in CI (CI has no browser): `apt-get install -y chromium` (Debian's), `bash scripts/build_site.sh`,
then `python scripts/check_site.py` (exit 1 if a check fails). It works offline: MathJax is part of the site.

How: for each page a copy with a small probe script is written beside it (so relative links still resolve); once
MathJax has finished, the probe writes the sizes of the page's equations, images and tables into the DOM as JSON,
which Chromium's --dump-dom prints after --virtual-time-budget. The copy is removed afterwards.
"""

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib.image

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "site" / "_build" / "html"
OUTPUT = ROOT / "site" / "_build" / "check"
WINDOW = (1280, 2400)
PROBE = """
<script>
window.addEventListener("load", () => {
  const typeset = window.MathJax && MathJax.startup ? MathJax.startup.promise : Promise.resolve();
  typeset.then(() => {
    const size = (element) => { const box = element.getBoundingClientRect(); return [box.width, box.height]; };
    const report = {
      equations: [...document.querySelectorAll("mjx-container")].map(e => ({size: size(e), svg: !!e.querySelector("svg"),
        error: (e.querySelector("[data-mjx-error]") || {getAttribute: () => null}).getAttribute("data-mjx-error")})),
      untypeset: [...document.querySelectorAll(".math")].filter(e => !e.querySelector("mjx-container")).length,
      images: [...document.querySelectorAll("article img")].map(i => ({src: i.getAttribute("src"),
        natural: [i.naturalWidth, i.naturalHeight], shown: size(i)})),
      tables: [...document.querySelectorAll("article table")].map(t => ({rows: t.rows.length, shown: size(t)})),
      plots: [...document.querySelectorAll(".plotly-graph-div")].filter(d => d.querySelector(".main-svg")).map(size),
      mathjax_scripts: [...document.scripts].filter(s => /mathjax/i.test(s.src)).length,
    };
    const out = document.createElement("pre");
    out.id = "site-check";
    out.textContent = JSON.stringify(report);
    document.body.appendChild(out);
  });
});
</script>
"""


def chromium(*arguments: str) -> subprocess.CompletedProcess:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        sys.exit("check_site: no chromium here; apt-get install -y chromium (Debian's package)")
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                               "--no-first-run", "--disable-background-networking", "--disable-component-update",
                               "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
                               f"--window-size={WINDOW[0]},{WINDOW[1]}", "--virtual-time-budget=10000", *arguments],
                              capture_output=True, text=True, timeout=120)


def render(page: Path, name: str) -> dict:
    """The probe's report for ``page``; its screenshot and DOM go to OUTPUT/name.png and .html."""
    probe = page.with_name(f"{page.stem}.site-check.html")
    probe.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    try:
        dom = chromium("--dump-dom", probe.as_uri()).stdout
        chromium(f"--screenshot={OUTPUT / f'{name}.png'}", page.as_uri())
    finally:
        probe.unlink()
    (OUTPUT / f"{name}.html").write_text(dom)
    found = re.search(r'<pre id="site-check"[^>]*>(.*?)</pre>', dom, re.S)
    if not found:
        raise AssertionError(f"{name}: the probe did not report (page scripts failed?)")
    return json.loads(html.unescape(found.group(1)))


def drawn_fraction(screenshot: Path) -> float:
    """The share of the screenshot's pixels that are not the white background."""
    pixels = matplotlib.image.imread(screenshot)[..., :3]
    return float((pixels.min(axis=-1) < 0.9).mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    if not (SITE / "site" / "course.html").exists():
        sys.exit("check_site: no site; run bash scripts/build_site.sh first")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    failures = []

    notebook = render(SITE / "notebooks" / "01_projection_jacobians.html", "01_projection_jacobians")
    equations = [e for e in notebook["equations"] if e["svg"] and min(e["size"]) > 0 and not e["error"]]
    errors = [e["error"] for e in notebook["equations"] if e["error"]]
    figures = [i for i in notebook["images"] if "_images/" in i["src"] and min(i["natural"]) > 0 and min(i["shown"]) > 0]
    print(f"notebook 01: {len(equations)} of {len(notebook['equations'])} equations typeset and shown "
          f"({notebook['untypeset']} left as TeX, {len(errors)} TeX errors {errors}); {len(figures)} figures loaded "
          "and shown, natural sizes "
          f"{[tuple(i['natural']) for i in figures]}")
    if not equations or notebook["untypeset"] or errors:
        failures.append("notebook 01: equations not typeset")
    if not figures:
        failures.append("notebook 01: no figure shown")

    tour = render(SITE / "notebooks" / "00_data_tour.html", "00_data_tour")
    plots = [size for size in tour["plots"] if min(size) > 0]
    print(f"notebook 00: {len(plots)} plotly figures drawn, sizes {plots}; {tour['mathjax_scripts']} MathJax scripts")
    if not plots:
        failures.append("notebook 00: the plotly figure is not drawn")
    if tour["mathjax_scripts"] != 1:
        failures.append(f"notebook 00: {tour['mathjax_scripts']} MathJax scripts, not one")

    home = render(SITE / "site" / "course.html", "course")
    tables = [t for t in home["tables"] if t["rows"] > 1 and min(t["shown"]) > 0]
    print(f"home page (the course): {len(tables)} tables shown, rows {[t['rows'] for t in tables]}; "
          f"{len(home['images'])} images in the text")
    if not tables:
        failures.append("home page: no table shown")

    for name in ("01_projection_jacobians", "00_data_tour", "course"):
        fraction = drawn_fraction(OUTPUT / f"{name}.png")
        print(f"screenshot {OUTPUT.relative_to(ROOT) / f'{name}.png'}: {fraction:.0%} of the pixels drawn")
        if fraction < 0.01:
            failures.append(f"{name}: the screenshot is blank")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
