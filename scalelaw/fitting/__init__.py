"""The fitting machinery: data checks, objective, parameter spec, starts and multi-start search.

It knows laws and nothing above them: :func:`scalelaw.fit` (in :mod:`scalelaw.api`) runs
:func:`~scalelaw.fitting.search.search` and wraps what it returns in a
:class:`~scalelaw.result.FitResult`.
"""
