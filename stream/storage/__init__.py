"""The DynamoDB tables: packed score buckets, alerts and alert routes.

Shared by the sink (writes), the read API and the operator commands (read) and the notifier
(alert routes). No process lives here.
"""
