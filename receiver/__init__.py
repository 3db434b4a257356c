"""Prometheus remote-write receiver: decodes and checks requests, publishes series to Kafka.

The decoding core (:mod:`receiver.negotiation`, :mod:`receiver.compression`,
:mod:`receiver.labelset`, :mod:`receiver.cache`, :mod:`receiver.decoding`) never imports
aiohttp; :mod:`receiver.app` adapts HTTP requests to it and :mod:`receiver.main` runs it as
a process (``python -m receiver.main``).
"""
