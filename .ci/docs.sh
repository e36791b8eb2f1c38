#!/usr/bin/env bash
# The documentation site: docs/ (MyST Markdown pages and the API reference autodoc takes from the
# installed hpc_kernels) built by Sphinx from scratch with warnings as errors, in CI's virtual
# environment. Prints the warning count, the pages written and the time taken.
#
#   bash .ci/docs.sh [OUT]              # HTML in OUT (default build/docs)
#   KERNELS_DOCS_VENV=.venv bash .ci/docs.sh   # another venv than CI's .ci-venv (e.g. a development one)
#
# .ci/run calls it after the tests, in .ci-venv with the package installed: only the docs extra's
# packages are added (no second build of the package). Run alone, it creates .ci-venv when absent
# and installs ".[docs]" (the package and the extra) when hpc_kernels does not import there.
# Nothing is fetched at build time (no intersphinx); pip fetches the extra's packages from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
out="${1:-build/docs}"
venv="${KERNELS_DOCS_VENV:-.ci-venv}"

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# shellcheck disable=SC1091
. "$venv/bin/activate"
python -c "import sys; sys.exit(sys.version_info < (3, 11))" \
  || { echo "docs: the docs extra (Sphinx 9, MyST-Parser 5) needs Python >= 3.11; $venv has $(python -V 2>&1)"; exit 1; }
if python -c "import hpc_kernels" >/dev/null 2>&1; then
  # The docs extra as pyproject.toml lists it (Sphinx 9 needs Python >= 3.11, which has tomllib).
  mapfile -t reqs < <(python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["docs"]))')
  python -m pip install -q "${reqs[@]}"
else
  python -m pip install -q --upgrade pip
  python -m pip install -q ".[docs]"
fi

# -E and a fresh OUT: every page is read again, so no warning hides in an incremental build.
rm -rf "$out"
log="$(mktemp)"
rc=0
sphinx-build -W --keep-going -E -q -b html -w "$log" docs "$out" || rc=$?
warnings=$(grep -cE "(WARNING|ERROR|CRITICAL|SEVERE)" "$log" || true)
echo "docs: sphinx $(python -c 'import sphinx; print(sphinx.__version__)'), $warnings warning(s), exit status $rc"
if [ "$rc" != 0 ] || [ "$warnings" != 0 ]; then
  cat "$log"
  rm -f "$log"
  exit 1
fi
rm -f "$log"
echo "docs: pages in $out:"
(cd "$out" && find . -name '*.html' ! -name genindex.html ! -name search.html ! -name py-modindex.html | sed 's|^\./||' | sort | sed 's/^/  /')
echo "docs: built in $((SECONDS - start)) s (pip install included)"
