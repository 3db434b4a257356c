"""Notification delivery: Telegram through python-telegram-bot, sent once per chat.

* :mod:`~stream.notify.service` — alert events → recipients → messages, deduplicated.
* :mod:`~stream.notify.telegram` — the Telegram boundary (retries, error translation).
* :mod:`~stream.notify.template` — HTML rendering from ``deploy/templates/telegram.toml``.
* :mod:`~stream.notify.recipients`, :mod:`~stream.notify.sent_log` — ports and fakes.
* :mod:`~stream.notify.selftest` — ``aidevops alerts test``.
"""
