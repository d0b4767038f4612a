"""SQM's benchmark suite: every figure measured against a ceiling measured in the same run.

``python -m bench`` (or ``make bench``) runs it; ``--quick`` is the few-second smoke run the
test suite uses. See ``docs/performance.md`` for what each figure means and the results.
"""
