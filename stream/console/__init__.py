"""The web console served by ``aidevops api`` under ``/console``.

Server-rendered pages (Jinja2, autoescaped) over the same stores as the read API: what is
anomalous now (live, from the ``scores`` topic), one series with its band, score and alert
episodes, the alert history with its deliveries, and the alert routes. Logging in checks the
same credentials as the API (:mod:`aidevops.auth`) and opens a server-side session.
"""
