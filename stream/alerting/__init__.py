"""The alert policy: pure, framework-free, time passed in (used by the worker).

* :mod:`~stream.alerting.policy` — scores of a series → ``AlertEvent`` (firing / resolved).
* :mod:`~stream.alerting.series_state` — the per-series state it keeps, serializable.
* :mod:`~stream.alerting.baseline` — expected range of the value.
"""
