"""Persistence of scores, alerts and alert routes in DynamoDB, and the sink that writes them."""
