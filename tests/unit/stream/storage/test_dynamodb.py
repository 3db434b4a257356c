from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (  # type: ignore[import-untyped]
    ClientError,
    EndpointConnectionError,
)

from stream.storage.dynamodb import DynamoGateway
from stream.storage.errors import StorageRejected, StorageUnavailable


def client_error(code: str, op: str = "BatchWriteItem") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, op)


class ScriptedClient:
    """Answers BatchWriteItem from a script: dicts are responses, exceptions are raised."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []

    def batch_write_item(self, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(kwargs)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        response: dict[str, Any] = step(kwargs) if callable(step) else step
        return response

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected call {name}")


def items(n: int) -> list[dict[str, Any]]:
    return [{"pk": {"S": str(i)}, "sk": {"S": "x"}} for i in range(n)]


def half_unprocessed(kwargs: dict[str, Any]) -> dict[str, Any]:
    reqs = kwargs["RequestItems"]["t"]
    return {
        "UnprocessedItems": {"t": reqs[len(reqs) // 2 :]},
        "ConsumedCapacity": [{"TableName": "t", "CapacityUnits": float(len(reqs) // 2)}],
    }


def ok(kwargs: dict[str, Any]) -> dict[str, Any]:
    n = len(kwargs["RequestItems"]["t"])
    return {"UnprocessedItems": {}, "ConsumedCapacity": [{"CapacityUnits": float(n)}]}


def test_unprocessed_items_and_throttling_are_retried_until_written() -> None:
    sleeps: list[float] = []
    client = ScriptedClient(
        [half_unprocessed, client_error("ProvisionedThroughputExceededException"), ok, ok, ok]
    )
    gw = DynamoGateway(client, sleep=sleeps.append)
    gw.write("t", items(30))  # 25 + 5
    sent = [
        r["pk"]["S"]
        for req in client.requests
        for r0 in req["RequestItems"]["t"]
        for r in [r0["PutRequest"]["Item"]]
    ]
    assert len(client.requests) == 4
    assert sent[-5:] == ["25", "26", "27", "28", "29"]
    assert gw.meter.items_written == 30
    assert gw.meter.write_units == 30.0
    assert len(sleeps) == 2 and all(s > 0 for s in sleeps)


def test_throttling_past_the_deadline_is_unavailable() -> None:
    client = ScriptedClient([client_error("ThrottlingException")] * 1000)
    gw = DynamoGateway(client, deadline_seconds=0.05, sleep=lambda s: None)
    with pytest.raises(StorageUnavailable):
        gw.write("t", items(1))


def test_connection_errors_and_rejections_are_translated() -> None:
    gw = DynamoGateway(ScriptedClient([EndpointConnectionError(endpoint_url="http://x")]))
    with pytest.raises(StorageUnavailable):
        gw.write("t", items(1))
    gw = DynamoGateway(ScriptedClient([client_error("ValidationException")]))
    with pytest.raises(StorageRejected):
        gw.write("t", items(1))
