"""Everything after the receiver: four processes over shared pure cores.

Processes (each a package with its own settings and entry point):

* :mod:`stream.worker` — ``aidevops worker``: the Faust worker that scores ``samples``.
* :mod:`stream.sink` — ``aidevops sink``: ``scores`` and ``alerts`` into DynamoDB.
* :mod:`stream.api` — ``aidevops api``: stored scores and alerts over HTTP.
* :mod:`stream.notifier` — ``aidevops notify``: alerts to Telegram.

Shared cores below them: :mod:`stream.detection` (per-series detectors),
:mod:`stream.alerting` (the alert policy) and :mod:`stream.storage` (the DynamoDB tables).
"""
