"""Notification delivery against a local Telegram Bot API stand-in."""
