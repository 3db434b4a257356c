"""Launchers for the real parts run as local processes (tests and ``aidevops up``)."""
