"""The built-in destinations, one module each (registered in :mod:`grader.post.registry`)."""
