"""AI DevOps Platform: online anomaly detection for Prometheus metrics.

Packages: :mod:`receiver` (remote-write in, Kafka out), :mod:`stream` (Faust workers),
and :mod:`aidevops` (shared schema, settings, errors, the CLI and local launchers).
"""

__version__ = "0.1.0"
