#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu).
# The autograder zip (see make_autograder.sh) unpacks into /autograder/source: the grader
# package, assignments/ and reference/. Details: docs/instructor/posting.md, "gradescope".
set -euo pipefail

SOURCE=/autograder/source
VENV=/autograder/venv

apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip

python3 -m venv "$VENV"
"$VENV/bin/pip" install --upgrade pip
# Editable, so that the assignments/ and reference/ folders beside the package are found.
"$VENV/bin/pip" install -e "$SOURCE"

# Fetch and verify the assignments' data now (the image is built with network access;
# grading then needs none). The files land in the usual caches (e.g. ~/.keras/datasets).
cd "$SOURCE"
"$VENV/bin/python" - <<'PY'
from grader.assignments import available, find_assignment
from grader.specs.data import resolve_all

for name in available():
    resolve_all(find_assignment(name))
    print(f"data ready for {name}")
PY
