"""The built-in destinations, one module each (registered in :mod:`grader.post.registry`).

* ``base``: what every destination is (settings in, one score out, an attempt back);
* ``coursera``: the course platform's submission endpoint;
* ``webhook``: any URL, each score signed with HMAC-SHA256;
* ``gradescope``: ``results.json`` for Gradescope's autograder;
* ``lti``: an LMS line item through LTI 1.3 Assignment and Grade Services.
"""
