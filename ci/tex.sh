#!/usr/bin/env bash
# Install the real pdflatex and bibtex (Debian's TeX Live: base + recommended, which has booktabs) if missing,
# so the tests that compile paper.tex, table.tex, the multi-task table and references.bib run rather than skip.
set -euo pipefail
if ! command -v pdflatex >/dev/null || ! command -v bibtex >/dev/null; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    texlive-latex-base texlive-latex-recommended texlive-fonts-recommended >/dev/null
fi
pdflatex --version | head -n 1
