"""The harness version: part of every grading key, so a new version regrades resumed batches."""
__version__ = "0.3.0"
