"""The one module that talks to DynamoDB: batching, retries, back-off and error translation.

botocore errors are translated here, by error code, into :mod:`stream.storage.errors`:
throttling, 5xx and connection failures become :class:`StorageUnavailable` (retryable),
everything else :class:`StorageRejected`. ``UnprocessedItems`` / ``UnprocessedKeys`` are
retried with exponential back-off and jitter until ``deadline_seconds``; every call asks for
``ReturnConsumedCapacity=TOTAL`` and the units are added up in :class:`CapacityMeter`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from stream.storage.errors import StorageError, StorageRejected, StorageUnavailable

__all__ = [
    "CapacityMeter",
    "DynamoDBClient",
    "DynamoGateway",
    "Item",
    "create_table_if_missing",
    "last_per_key",
    "make_client",
    "translate_error",
]

Item = dict[str, Any]
"""An item in DynamoDB's low-level wire format: ``{"pk": {"S": "..."}, ...}``."""

RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "TransactionConflictException",
        "LimitExceededException",
    }
)
_BATCH_WRITE_MAX = 25
_BATCH_GET_MAX = 100


class DynamoDBClient(Protocol):
    """The part of a boto3 ``dynamodb`` client this package uses."""

    def batch_write_item(self, **kwargs: Any) -> dict[str, Any]: ...
    def batch_get_item(self, **kwargs: Any) -> dict[str, Any]: ...
    def query(self, **kwargs: Any) -> dict[str, Any]: ...
    def scan(self, **kwargs: Any) -> dict[str, Any]: ...
    def put_item(self, **kwargs: Any) -> dict[str, Any]: ...
    def delete_item(self, **kwargs: Any) -> dict[str, Any]: ...
    def create_table(self, **kwargs: Any) -> dict[str, Any]: ...
    def describe_table(self, **kwargs: Any) -> dict[str, Any]: ...
    def update_time_to_live(self, **kwargs: Any) -> dict[str, Any]: ...
    def close(self) -> None: ...


def make_client(
    endpoint_url: str | None,
    region: str,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    *,
    connect_timeout: float = 2.0,
    read_timeout: float = 10.0,
) -> DynamoDBClient:
    """A boto3 DynamoDB client; botocore's own retries are few because ours back off longer."""
    import boto3  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]

    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"max_attempts": 2, "mode": "standard"},
    )
    client: DynamoDBClient = boto3.client(
        "dynamodb",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=config,
    )
    return client


def translate_error(exc: Exception) -> StorageError:
    """Map a botocore error to the project's hierarchy by its error code.

    >>> err = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "Query")
    >>> type(translate_error(err)).__name__
    'StorageUnavailable'
    >>> err = ClientError({"Error": {"Code": "ValidationException", "Message": "bad"}}, "Query")
    >>> type(translate_error(err)).__name__
    'StorageRejected'
    """
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        message = f"DynamoDB {exc.operation_name}: {code}: {exc}"
        if code in RETRYABLE_CODES or status >= 500:
            return StorageUnavailable(message)
        return StorageRejected(message)
    if isinstance(exc, BotoCoreError):
        return StorageUnavailable(f"DynamoDB unreachable: {exc}")
    return StorageRejected(f"DynamoDB: {exc!r}")


def create_table_if_missing(
    client: DynamoDBClient, create_kwargs: Mapping[str, Any], ttl_attribute: str | None
) -> bool:
    """Create a table unless it exists, wait until it is active, enable TTL; True if created."""
    name = create_kwargs["TableName"]
    try:
        try:
            client.describe_table(TableName=name)
            return False
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
        try:
            client.create_table(**create_kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
                raise
            return False
        deadline = time.monotonic() + 120
        while client.describe_table(TableName=name)["Table"]["TableStatus"] != "ACTIVE":
            if time.monotonic() > deadline:
                raise StorageUnavailable(f"table {name} not active after 120 s")
            time.sleep(0.5)
        if ttl_attribute:
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute},
            )
        return True
    except (ClientError, BotoCoreError) as exc:
        raise translate_error(exc) from exc


@dataclass
class CapacityMeter:
    """Consumed capacity as DynamoDB reported it, and how many items were written."""

    write_units: float = 0.0
    read_units: float = 0.0
    items_written: int = 0
    items_deleted: int = 0
    throttled_retries: int = 0

    def add(self, response: Mapping[str, Any], *, write: bool) -> None:
        consumed = response.get("ConsumedCapacity") or ()
        for entry in [consumed] if isinstance(consumed, Mapping) else consumed:
            units = float(entry.get("CapacityUnits", 0.0))
            if write:
                self.write_units += units
            else:
                self.read_units += units


def last_per_key(items: Iterable[Item], key: Sequence[str] = ("pk", "sk")) -> list[Item]:
    """The last item of each key: one BatchWriteItem may not name the same key twice.

    >>> [i["v"] for i in last_per_key([{"pk": 1, "sk": 1, "v": "a"}, {"pk": 1, "sk": 1, "v": "b"}])]
    ['b']
    """
    return list({tuple(str(item[k]) for k in key): item for item in items}.values())


def _chunks(seq: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


class DynamoGateway:
    """Batched, retried access to DynamoDB for the stores; synchronous (run it in a thread).

    Parameters
    ----------
    client
        A boto3 DynamoDB client (or a fake with the same methods).
    deadline_seconds
        How long one call keeps retrying throttling and unprocessed items before raising
        :class:`StorageUnavailable`.
    sleep
        Injected for tests.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        *,
        deadline_seconds: float = 20.0,
        base_delay: float = 0.05,
        max_delay: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.meter = CapacityMeter()
        self._deadline_seconds = deadline_seconds
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._sleep = sleep
        self._rng = random.Random()

    def _backoff(self, attempt: int, deadline: float, what: str) -> None:
        delay = min(self._max_delay, self._base_delay * 2**attempt)
        delay = delay / 2 + self._rng.uniform(0, delay / 2)
        if time.monotonic() + delay > deadline:
            raise StorageUnavailable(f"DynamoDB kept throttling {what}; gave up after retries")
        self.meter.throttled_retries += 1
        self._sleep(delay)

    def _call(self, what: str, fn: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
        deadline = time.monotonic() + self._deadline_seconds
        attempt = 0
        while True:
            try:
                return fn(**kwargs)
            except (ClientError, BotoCoreError) as exc:
                error = translate_error(exc)
                throttled = isinstance(exc, ClientError) and isinstance(error, StorageUnavailable)
                if not throttled:
                    raise error from exc
                self._backoff(attempt, deadline, what)
                attempt += 1

    def write(self, table: str, puts: Sequence[Item] = (), deletes: Sequence[Item] = ()) -> None:
        """Put and delete items with BatchWriteItem (25 per call), retrying unprocessed ones."""
        requests: list[dict[str, Any]] = [{"PutRequest": {"Item": item}} for item in puts]
        requests += [{"DeleteRequest": {"Key": key}} for key in deletes]
        for group in _chunks(requests, _BATCH_WRITE_MAX):
            pending: list[dict[str, Any]] = list(group)
            deadline = time.monotonic() + self._deadline_seconds
            attempt = 0
            while pending:
                response = self._call(
                    "BatchWriteItem",
                    self.client.batch_write_item,
                    RequestItems={table: pending},
                    ReturnConsumedCapacity="TOTAL",
                )
                self.meter.add(response, write=True)
                left = response.get("UnprocessedItems", {}).get(table, [])
                done = len(pending) - len(left)
                self.meter.items_written += sum(1 for r in pending if "PutRequest" in r) - sum(
                    1 for r in left if "PutRequest" in r
                )
                self.meter.items_deleted += done - (
                    sum(1 for r in pending if "PutRequest" in r)
                    - sum(1 for r in left if "PutRequest" in r)
                )
                pending = list(left)
                if pending:
                    self._backoff(attempt, deadline, "BatchWriteItem")
                    attempt += 1

    def get(self, table: str, keys: Sequence[Item], *, consistent: bool = True) -> list[Item]:
        """Fetch items by key with BatchGetItem (100 per call); missing keys are left out."""
        found: list[Item] = []
        for group in _chunks(keys, _BATCH_GET_MAX):
            pending: list[Item] = list(group)
            deadline = time.monotonic() + self._deadline_seconds
            attempt = 0
            while pending:
                response = self._call(
                    "BatchGetItem",
                    self.client.batch_get_item,
                    RequestItems={table: {"Keys": pending, "ConsistentRead": consistent}},
                    ReturnConsumedCapacity="TOTAL",
                )
                self.meter.add(response, write=False)
                found.extend(response.get("Responses", {}).get(table, []))
                pending = list(response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", []))
                if pending:
                    self._backoff(attempt, deadline, "BatchGetItem")
                    attempt += 1
        return found

    def query(self, **kwargs: Any) -> Iterator[Item]:
        """All items of a Query, following ``LastEvaluatedKey``."""
        return self._pages("Query", self.client.query, kwargs)

    def scan(self, **kwargs: Any) -> Iterator[Item]:
        """All items of a Scan, following ``LastEvaluatedKey`` (small tables only)."""
        return self._pages("Scan", self.client.scan, kwargs)

    def _pages(
        self, what: str, fn: Callable[..., dict[str, Any]], kwargs: dict[str, Any]
    ) -> Iterator[Item]:
        kwargs = dict(kwargs, ReturnConsumedCapacity="TOTAL")
        while True:
            response = self._call(what, fn, **kwargs)
            self.meter.add(response, write=False)
            yield from response.get("Items", [])
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def put(self, table: str, item: Item) -> None:
        response = self._call(
            "PutItem",
            self.client.put_item,
            TableName=table,
            Item=item,
            ReturnConsumedCapacity="TOTAL",
        )
        self.meter.add(response, write=True)
        self.meter.items_written += 1

    def delete(self, table: str, key: Item) -> bool:
        """Delete one item; True if it existed."""
        response = self._call(
            "DeleteItem",
            self.client.delete_item,
            TableName=table,
            Key=key,
            ReturnValues="ALL_OLD",
            ReturnConsumedCapacity="TOTAL",
        )
        self.meter.add(response, write=True)
        existed = bool(response.get("Attributes"))
        self.meter.items_deleted += int(existed)
        return existed
