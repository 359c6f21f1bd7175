#!/usr/bin/env bash
# Build autograder.zip for Gradescope ("Configure Autograder" > "Zip file upload"):
# setup.sh and run_autograder at the root, plus what setup.sh installs.
# Usage: gradescope/make_autograder.sh [OUTPUT.zip]   (default: autograder.zip)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-autograder.zip}"
rm -f "$out"
python3 -m zipfile -c "$out" gradescope/setup.sh gradescope/run_autograder pyproject.toml \
    README.md grader assignments reference
echo "wrote $out"
