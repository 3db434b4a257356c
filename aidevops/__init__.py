"""AI DevOps Platform: online anomaly detection for Prometheus metrics.

The ground floor every process shares: the message schemas (:mod:`aidevops.pb`), settings
base, errors, Kafka helpers and rendering. It imports no process: :mod:`receiver` and
:mod:`stream` build on it, and :mod:`cli` (the command line, local launchers) sits on top.
"""

__version__ = "0.1.0"
