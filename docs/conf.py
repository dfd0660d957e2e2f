"""Sphinx configuration of the sklearn-bsp documentation.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html``.
"""

import re
import sys
from pathlib import Path

from threadpoolctl import threadpool_limits

import sklearn_bsp

# -- Project ------------------------------------------------------------------

project = "sklearn-bsp"
copyright = "2026, the sklearn-bsp developers"
author = "the sklearn-bsp developers"
version = sklearn_bsp.__version__
release = sklearn_bsp.__version__

# -- General ------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # MathJax 3 copied into the build (_static/mathjax) and loaded from there:
    # the pages render their equations offline, with no CDN.
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
# No sphinx.ext.intersphinx: it downloads the inventories of the other projects
# at build time, and the build must work offline. References to scikit-learn,
# NumPy and SciPy objects render as code without a link.

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"
default_role = "literal"  # `x` renders as code, as ``x`` does
pygments_style = "sphinx"

# -- API reference --------------------------------------------------------------

autosummary_generate = True
autodoc_typehints = "none"  # the numpydoc sections carry the types
autodoc_default_options = {"members": True}
# The class template lists the methods itself; numpydoc's member tables would
# list them a second time.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# -- Gallery --------------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # Only the quick plot_*.py scripts run at build time; longer scripts (the
    # paper reproduction) are rendered with their code but not executed.
    "filename_pattern": "/plot_",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("sklearn_bsp",),
    "backreferences_dir": "generated/backreferences",
    # Link names in the example code to this site's API pages (local; no
    # network).
    "reference_url": {"sklearn_bsp": None},
    "remove_config_comments": True,
    "show_memory": False,
    # No sg_execution_times.rst in the source tree; the build log still prints
    # the time of each example.
    "write_computation_times": False,
}

# The examples multiply matrices of a few hundred rows and columns. One BLAS
# thread does that without the synchronisation cost of several, which on a
# busy 2-core machine dominated: 0.13 ms against 4.3 ms for a 200 x 64 by
# 64 x 100 product with OpenBLAS, one thread against two.
threadpool_limits(limits=1, user_api="blas")

# -- HTML -----------------------------------------------------------------------

# The theme of NumPy, SciPy, pandas and (with its own CSS) scikit-learn, so
# the pages look like the rest of the ecosystem. No icon links or version
# switcher: both need URLs fetched at run time, and the build is offline.
html_theme = "pydata_sphinx_theme"
html_theme_options = {
    "logo": {"text": f"sklearn-bsp {release}"},
    "navbar_align": "left",
    "header_links_before_dropdown": 7,
    "show_toc_level": 2,
    # The page's own table of contents on the right; no "edit this page" or
    # "show source" links (html_show_sourcelink is off).
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
# The left sidebar lists the pages of the current section (the guides, the
# API reference, the examples); the landing, installation and changelog pages
# are sections of their own with nothing to list, so they have no sidebar.
html_sidebars = {"index": [], "install": [], "changelog": []}
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_title = f"sklearn-bsp {release}"
html_show_sourcelink = False

# -- Docstrings written for scikit-learn's documentation ----------------------

# Docstrings follow scikit-learn's and write :term:`fit` for entries of its
# glossary. Without intersphinx that role finds no target here, so rewrite it
# into a plain link to the glossary page. Methods inherited from scikit-learn
# (score, get_params, set_params) also refer to labels of scikit-learn's own
# pages with :ref:; keep their text and drop the reference.
SKLEARN_GLOSSARY = "https://scikit-learn.org/stable/glossary.html#term-{}"
_TERM_ROLE = re.compile(r":term:`(?P<text>[^`<]+?)\s*(?:<(?P<target>[^`>]+)>)?`")
_REF_ROLE = re.compile(r":ref:`(?P<text>[^`<]+?)\s*(?:<(?P<target>[^`>]+)>)?`")


def _term_link(match):
    text = match["text"].strip()
    target = (match["target"] or text).strip().lower().replace(" ", "-")
    return f"`{text} <{SKLEARN_GLOSSARY.format(target)}>`__"


def _ref_text(match):
    return match["text"].strip()


def rewrite_sklearn_roles(app, what, name, obj, options, lines):
    """Make scikit-learn's cross-references resolvable without intersphinx."""
    from_sklearn = getattr(obj, "__module__", "").split(".")[0] == "sklearn"
    for i, line in enumerate(lines):
        line = _TERM_ROLE.sub(_term_link, line)
        if from_sklearn:
            line = _REF_ROLE.sub(_ref_text, line)
        lines[i] = line


# The figures of the performance and deploy pages are drawn at every build
# from the committed benchmark results (docs/result_figures.py), into
# generated/figures/, so that a figure never disagrees with its results.
sys.path.insert(0, str(Path(__file__).resolve().parent))


def draw_result_figures(app):
    """Draw the benchmark figures before the pages are read."""
    from result_figures import write_figures

    write_figures(Path(app.srcdir) / "generated" / "figures")


def setup(app):
    app.connect("autodoc-process-docstring", rewrite_sklearn_roles)
    app.connect("builder-inited", draw_result_figures)
