"""Code that runs inside a learner's kernel, never in the harness process.

Modules here may import TensorFlow (lazily); the harness only ever sends
them execute requests.
"""
