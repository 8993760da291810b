"""Sphinx configuration of the kit's static site: the README as the home page, the notebooks README, the executed
notebooks as committed (MyST-NB renders their outputs; nothing is executed), the student edition (no outputs) and the READMEs of data_scripts/ and
benchmarks/. It builds offline with pip packages only: MathJax 3 (its single-file SVG build, all TeX extensions
included, no fonts to fetch) is copied from django-static-mathjax into the site instead of being loaded from a CDN.
Built by scripts/build_site.sh (sphinx-build -c site . site/_build/html): the sources stay where they are."""

import shutil
import sys
import tomllib
from pathlib import Path

import mathjax  # django-static-mathjax: MathJax's npm distribution (mathjax-full) as a pip package

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import colab_install_cell  # noqa: E402  (the one revision every link to the notebooks names)

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
REPOSITORY = PROJECT["urls"]["Repository"]
MATHJAX = Path(mathjax.__file__).parent / "static" / "mathjax"
NOTEBOOK_PAGES = ["notebooks/README", *sorted(f"notebooks/{path.stem}" for path in (ROOT / "notebooks").glob("0*.ipynb"))]
# The student edition (scripts/student_edition.py), each page under its own title in the table of contents.
STUDENT_PAGES = sorted(f"notebooks/student/{path.stem}" for path in (ROOT / "notebooks" / "student").glob("0*.ipynb"))
OTHER_PAGES = ["data_scripts/README", "benchmarks/README"]

project = PROJECT["name"]
release = version = PROJECT["version"]
root_doc = "README"
extensions = ["myst_nb"]
# Only these files are pages; whole folders that hold none are pruned so the walk stays quick.
include_patterns = ["README.md", "notebooks/README.md", "notebooks/0*.ipynb", "notebooks/student/0*.ipynb",
                    *(f"{page}.md" for page in OTHER_PAGES)]
exclude_patterns = [".git", ".venv", ".pytest_cache", ".hypothesis", "results", "site/_build", "notebooks/build",
                    "**/.ipynb_checkpoints", "weakpose_lite", "tests", "studies", "scripts"]

nb_execution_mode = "off"  # the committed outputs are the pages' outputs
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
# plotly outputs carry their JSON beside the HTML the site shows; a title cell opens with the Colab badge line
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]

mathjax_path = "mathjax/tex-svg-full.js"  # relative to _static/, copied there by _copy_mathjax

html_theme = "sphinx_book_theme"
html_title = f"weakpose-lite {version}"
html_theme_options = {
    "repository_url": REPOSITORY,
    "repository_branch": colab_install_cell.REVISION,
    "path_to_docs": "",
    "use_repository_button": True,
    "launch_buttons": {"colab_url": "https://colab.research.google.com", "binderhub_url": "https://mybinder.org"},
    "show_toc_level": 2,
}
html_copy_source = False  # the sources are in the repository; the notebooks alone would double the site


def _add_navigation(app, docname, source):
    """The README is the home page: give it the site's table of contents (hidden: the sidebar shows it)."""
    if docname == root_doc:
        entries = "\n".join(NOTEBOOK_PAGES + OTHER_PAGES)
        students = "\n".join(f"{page.rsplit('/', 1)[1][:2]} · student edition <{page}>" for page in STUDENT_PAGES)
        source[0] += (f"\n\n```{{toctree}}\n:hidden:\n:maxdepth: 1\n\n{entries}\n```\n"
                      f"\n```{{toctree}}\n:hidden:\n:caption: Student edition\n:maxdepth: 1\n\n{students}\n```\n")


def _copy_mathjax(app, exception):
    if exception is None and app.builder.format == "html":
        target = Path(app.outdir) / "_static" / "mathjax"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(MATHJAX / "es5" / "tex-svg-full.js", target)
        shutil.copy2(MATHJAX / "LICENSE", target)
        shutil.copy2(Path(app.outdir) / f"{root_doc}.html", Path(app.outdir) / "index.html")


def setup(app):
    app.connect("source-read", _add_navigation)
    app.connect("build-finished", _copy_mathjax)
