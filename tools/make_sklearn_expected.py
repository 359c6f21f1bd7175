#!/usr/bin/env python3
"""Write class_means.npy: the expected array of part ``class_means``, computed from the graded data.

    .venv/bin/python tools/make_sklearn_expected.py

It reads the digits file the harness grades with (built by the assignment's
``build`` command, or ``GRADER_DATA_DIGITS``), takes the rows of split
``train`` and writes the mean image of each digit, float64, shape (10, 64),
to ``reference/sklearn_digits/class_means.npy``. The result only changes if the data does (the data's
arrays are checksummed in assignment.toml).
"""
from pathlib import Path

import numpy as np

from grader.assignments import load_assignment
from grader.specs.data import load_arrays, resolve_all

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "reference" / "sklearn_digits"


def main() -> None:
    assignment = load_assignment(ROOT / "assignments" / "sklearn_digits")
    split = assignment.split("train")
    data = assignment.data_file(split.data)
    arrays = load_arrays(data, resolve_all(assignment)[data.name])
    images = arrays[split.x][split.start:split.stop].astype(np.float64) / split.scale
    labels = arrays[split.y][split.start:split.stop]
    means = np.stack([images[labels == digit].mean(axis=0) for digit in range(10)])
    np.save(REFERENCE / "class_means.npy", means)
    print(f"wrote {REFERENCE / 'class_means.npy'}: shape {means.shape}, from {len(labels)} images")


if __name__ == "__main__":
    main()
