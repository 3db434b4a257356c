"""The sink process (``aidevops sink``): ``scores`` and ``alerts`` into DynamoDB, idempotently."""
