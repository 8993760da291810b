"""Sphinx configuration of the kit's static site. The home page is the course page (site/course.md: lessons,
objectives, what is graded, how to run a class), with the instructor notes (site/instructor_notes.md), the README,
the notebooks README, the executed notebooks as committed (MyST-NB renders their outputs; nothing is executed), the
student edition (no outputs) and the READMEs of data_scripts/ and benchmarks/; the course pages' tables are read
from the notebooks (site/course_pages.py). Each notebook page's download button fetches its .ipynb (the sources are
copied into `_sources/` under their own names).

It builds and works offline with pip packages only: MathJax 3 (its single-file SVG build, all TeX extensions
included, no fonts to fetch) is copied from django-static-mathjax into the site, and plotly.js from the plotly
package; a plotly output saved with plotly's "notebook_connected" renderer names both on CDNs (plotly.js, and a
second MathJax), so each page's HTML is rewritten to load the site's plotly.js and no second MathJax. The build fails
if a page still loads a script from elsewhere, or if a notebook page's download link leads nowhere.
Built by scripts/build_site.sh (sphinx-build -c site . site/_build/html): the sources stay where they are."""

import os
import re
import shutil
import sys
import tomllib
from pathlib import Path

import mathjax  # django-static-mathjax: MathJax's npm distribution (mathjax-full) as a pip package
import plotly

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "site"))
import colab_install_cell  # noqa: E402  (the one revision every link to the notebooks names)
import course_pages  # noqa: E402  (the course pages' tables, read from the notebooks)

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
REPOSITORY = PROJECT["urls"]["Repository"]
MATHJAX = Path(mathjax.__file__).parent / "static" / "mathjax"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
COURSE_PAGES = ["site/course", "site/instructor_notes"]
NOTEBOOK_PAGES = ["notebooks/README", *sorted(f"notebooks/{path.stem}" for path in (ROOT / "notebooks").glob("0*.ipynb"))]
# The student edition (scripts/student_edition.py), each page under its own title in the table of contents.
STUDENT_PAGES = sorted(f"notebooks/student/{path.stem}" for path in (ROOT / "notebooks" / "student").glob("0*.ipynb"))
OTHER_PAGES = ["README", "data_scripts/README", "benchmarks/README"]
# What a plotly "notebook_connected" output loads from CDNs: plotly.js (as a module import and as a script) and
# MathJax 2's configuration with MathJax 3 itself.
PLOTLY_MODULE_IMPORT = re.compile(r'<script type="module">import "https://cdn\.plot\.ly/[^"]+"</script>')
PLOTLY_SCRIPT = re.compile(r'<script charset="utf-8" src="https://cdn\.plot\.ly/[^"]+"[^>]*></script>')
CDN_MATHJAX = re.compile(r'<script src="https://cdnjs\.cloudflare\.com/ajax/libs/mathjax/[^"]+"></script>')
EXTERNAL_SCRIPT = re.compile(r'<script[^>]*\ssrc="(?:https?:)?//[^"]*"|import "https?://[^"]*"')

project = PROJECT["name"]
release = version = PROJECT["version"]
root_doc = "site/course"
extensions = ["myst_nb"]
# Only these files are pages; whole folders that hold none are pruned so the walk stays quick.
include_patterns = ["site/*.md", "README.md", "notebooks/README.md", "notebooks/0*.ipynb", "notebooks/student/0*.ipynb",
                    *(f"{page}.md" for page in OTHER_PAGES)]
exclude_patterns = [".git", ".venv", ".pytest_cache", ".hypothesis", "results", "site/_build", "notebooks/build",
                    "**/.ipynb_checkpoints", "weakpose_lite", "tests", "studies", "scripts"]

nb_execution_mode = "off"  # the committed outputs are the pages' outputs
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
# plotly outputs carry their JSON beside the HTML the site shows; a title cell opens with the Colab badge line
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]

mathjax_path = "mathjax/tex-svg-full.js"  # relative to _static/, copied there by _copy_assets

html_theme = "sphinx_book_theme"
html_title = f"weakpose-lite {version}"
html_theme_options = {
    "repository_url": REPOSITORY,
    "repository_branch": colab_install_cell.REVISION,
    "path_to_docs": "",
    "use_repository_button": True,
    "use_download_button": True,
    "launch_buttons": {"colab_url": "https://colab.research.google.com", "binderhub_url": "https://mybinder.org"},
    "show_toc_level": 2,
}
# The download button links to _sources/<page><suffix>: each source under its own name, a notebook as its .ipynb.
html_copy_source = True
html_sourcelink_suffix = ""


def _add_navigation(app, docname, source):
    """The course page is the home page: give it the site's table of contents (hidden: the sidebar shows it), and
    fill the course pages' generated tables."""
    if docname in COURSE_PAGES:
        source[0] = course_pages.fill(source[0])
    if docname == root_doc:
        def toctree(caption, entries):  # "/page": relative to the repository, not to site/
            return f"\n```{{toctree}}\n:hidden:\n:maxdepth: 1\n:caption: {caption}\n\n" + "\n".join(entries) + "\n```\n"

        students = [f"{page.rsplit('/', 1)[1][:2]} · student edition </{page}>" for page in STUDENT_PAGES]
        source[0] += (toctree("The course", [f"/{page}" for page in ["site/instructor_notes", *NOTEBOOK_PAGES]])
                      + toctree("Student edition", students) + toctree("The kit", [f"/{page}" for page in OTHER_PAGES]))


def _local_scripts(page: Path, static: Path) -> None:
    """Rewrites a page's HTML to load the site's plotly.js and no second MathJax."""
    text = page.read_text()
    if "cdn.plot.ly" not in text and "cdnjs.cloudflare.com" not in text:
        return
    local = Path(os.path.relpath(static / "plotly" / PLOTLY_JS.name, page.parent)).as_posix()
    text = PLOTLY_MODULE_IMPORT.sub("", text)
    text = PLOTLY_SCRIPT.sub(f'<script charset="utf-8" src="{local}"></script>', text)
    page.write_text(CDN_MATHJAX.sub("", text))


def _check_pages(outdir: Path) -> None:
    """Fails the build if a page loads a script from another site, or a notebook page's download link is missing."""
    problems = []
    for page in sorted(outdir.rglob("*.html")):
        external = EXTERNAL_SCRIPT.findall(page.read_text())
        if external:
            problems.append(f"{page.relative_to(outdir)} loads {external[0]}")
    for docname in [*NOTEBOOK_PAGES[1:], *STUDENT_PAGES]:
        page = outdir / f"{docname}.html"
        links = re.findall(r'href="([^"]*_sources/[^"]+\.ipynb)"', page.read_text())
        if not links or not all((page.parent / link).resolve().is_file() for link in links):
            problems.append(f"{docname}.html: no download of its .ipynb ({links})")
    if problems:
        raise RuntimeError("site: " + "; ".join(problems))


def _copy_assets(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    static = outdir / "_static"
    (static / "mathjax").mkdir(parents=True, exist_ok=True)
    shutil.copy2(MATHJAX / "es5" / "tex-svg-full.js", static / "mathjax")
    shutil.copy2(MATHJAX / "LICENSE", static / "mathjax")
    (static / "plotly").mkdir(exist_ok=True)
    shutil.copy2(PLOTLY_JS, static / "plotly")
    for page in outdir.rglob("*.html"):
        _local_scripts(page, static)
    # the home page at the site's root: the course page lives in site/, one folder down
    (outdir / "index.html").write_text(
        '<!DOCTYPE html>\n<meta charset="utf-8">\n<meta http-equiv="refresh" content="0; url=site/course.html">\n'
        '<title>weakpose-lite: the course</title>\n<a href="site/course.html">The course</a>\n')
    _check_pages(outdir)


def setup(app):
    app.connect("source-read", _add_navigation)
    app.connect("build-finished", _copy_assets)
