"""The notifier process (``aidevops notify``): alert events → grouped, rate-limited messages.

* :mod:`~stream.notifier.runner` — consumes ``alerts``, commits what was delivered.
* :mod:`~stream.notifier.delivery` — alert events → recipients → messages, deduplicated.
* :mod:`~stream.notifier.dispatcher` — grouping, repeat interval, rate limit.
* :mod:`~stream.notifier.telegram` — the Telegram boundary (retries, error translation).
* :mod:`~stream.notifier.template` — HTML rendering from ``deploy/templates/telegram.toml``.
* :mod:`~stream.notifier.sent_log` — what was sent, so a restart sends no duplicate.
* :mod:`~stream.notifier.selftest` — ``aidevops alerts test``.
"""
