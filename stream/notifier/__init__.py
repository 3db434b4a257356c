"""The notifier process (``aidevops notify``): alert events → grouped, rate-limited messages.

* :mod:`~stream.notifier.runner` — consumes ``alerts``, commits what was delivered.
* :mod:`~stream.notifier.delivery` — alert events → recipients → messages, deduplicated.
* :mod:`~stream.notifier.dispatcher` — grouping, repeat interval, rate limit.
* :mod:`~stream.notifier.channels` — the port of every message channel; Telegram behind it.
* :mod:`~stream.notifier.telegram`, :mod:`~stream.notifier.slack`,
  :mod:`~stream.notifier.pagerduty`, :mod:`~stream.notifier.sns`,
  :mod:`~stream.notifier.webhook` — each service's boundary (retries, error translation).
* :mod:`~stream.notifier.alertmanager` — Alertmanager's API v2, re-sent while firing.
* :mod:`~stream.notifier.outputs` — every output, built from the settings.
* :mod:`~stream.notifier.http` — JSON over HTTP with 429/5xx handling, shared.
* :mod:`~stream.notifier.secrets` — route secrets by reference (environment, Secrets Manager).
* :mod:`~stream.notifier.template` — one context, rendered per channel from
  ``deploy/templates/*.toml``; :mod:`~stream.notifier.preview` shows the result.
* :mod:`~stream.notifier.sent_log` — what was sent, so a restart sends no duplicate.
* :mod:`~stream.notifier.selftest` — ``aidevops alerts test``.
"""
