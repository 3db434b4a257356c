"""The DynamoDB tables: packed score buckets, alerts, alert routes and controls.

Shared by the sink (writes), the read API and the operator commands (read), the notifier
(alert routes, mutes) and the workers (controls). No process lives here.
"""
