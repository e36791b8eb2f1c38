"""Sphinx configuration of the hpc-kernels documentation site (docs/*.md through MyST, the API
reference from the docstrings of the installed hpc_kernels package). Built by .ci/docs.sh with
warnings as errors; nothing is fetched from the network at build time (no intersphinx)."""
from __future__ import annotations

import hpc_kernels  # autodoc documents the installed package (the repository's kernels/ folder installs under this name)

project = "hpc-kernels"
author = "hpc-kernels contributors"
copyright = "hpc-kernels contributors, BSD-3-Clause"
release = version = hpc_kernels.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# MyST: anchors for `page.md#section` links (the pages were README sections that linked this way);
# ```{directive} fences and $...$ are not needed.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

# autodoc: members in source order, signatures with their annotations; autosummary writes only
# tables into the page (no generated stub files in the source tree).
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autosummary_generate = False
napoleon_google_docstring = True
napoleon_numpy_docstring = True

html_theme = "furo"
html_title = f"hpc-kernels {release}"
# Code blocks of shell sessions and C/Fortran sources are shown as they are.
highlight_language = "none"
