"""The similarity report's settings, their defaults and meaning: one table for the library and the CLI.

Imported by ``grader --help`` (argparse only), so it imports nothing.  The
defaults are chosen on ``bench/bench_similarity_detection.py`` (synthetic
classes of short solutions with disguised copies; figures and why:
``docs/instructor/similarity.md``).
"""
from __future__ import annotations

# name -> (default, meaning); each is an option --name-with-dashes of `grader similarity`.
REPORT_DEFAULTS = {
    "stands_out": (9.0, "how far out a pair must lie to be marked as standing out, in spreads above the "
                        "class's typical pair, in a class of up to 2,000 pairs (+1.7 for every ten times "
                        "as many pairs beyond)"),
    "with_model": (6.0, "... or this far out (grown alike) when the two also have the same rare model"),
    "model_weight": (0.7, "weight (rarity x diversity) from which a shared model counts as rare"),
    "top": (40, "closest pairs listed, ranked (the pairs that stand out are always listed)"),
}
CODE_DEFAULTS = {
    "noise": (25, "shortest shared fragment that counts, in normalised characters (MOSS's k, "
                  "copydetect's noise threshold)"),
    "guarantee": (30, "shared fragments this long are always found (copydetect's guarantee threshold)"),
}
