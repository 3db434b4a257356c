"""Stream workers: consume ``samples``, score every series, publish ``scores`` and ``alerts``."""
