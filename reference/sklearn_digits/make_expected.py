#!/usr/bin/env python3
"""Write class_means.npy: the expected array of part ``class_means``, computed from the graded data.

    .venv/bin/python reference/sklearn_digits/make_expected.py

It reads the digits file the harness grades with (built by the assignment's
``build`` command, or ``GRADER_DATA_DIGITS``), takes the rows of split
``train`` and writes the mean image of each digit, float64, shape (10, 64),
beside this script. The result only changes if the data does (the data's
arrays are checksummed in assignment.toml).
"""
from pathlib import Path

import numpy as np

from grader.data import load_arrays, resolve_all
from grader.assignments import load_assignment

HERE = Path(__file__).resolve().parent


def main() -> None:
    assignment = load_assignment(HERE.parent.parent / "assignments" / HERE.name)
    split = assignment.split("train")
    data = assignment.data_file(split.data)
    arrays = load_arrays(data, resolve_all(assignment)[data.name])
    images = arrays[split.x][split.start:split.stop].astype(np.float64) / split.scale
    labels = arrays[split.y][split.start:split.stop]
    means = np.stack([images[labels == digit].mean(axis=0) for digit in range(10)])
    np.save(HERE / "class_means.npy", means)
    print(f"wrote {HERE / 'class_means.npy'}: shape {means.shape}, from {len(labels)} images")


if __name__ == "__main__":
    main()
