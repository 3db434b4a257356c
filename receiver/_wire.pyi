from collections.abc import Mapping

def plain_v1(
    payload: bytes,
    labels: Mapping[bytes, tuple[int, bytes, bytes, bytes]],
    metadata: Mapping[bytes, bytes],
    suffix: bytes,
    stale: bytes,
    index: bool,
    /,
) -> tuple[list[tuple[int, bytes, bytes]], list[bytes], int] | None: ...
def pack_samples(
    records: list[tuple[int, bytes, bytes]],
    samples: list[bytes],
    partitions: int,
    max_bytes: int,
    series_tag: bytes,
    ids_tag: bytes,
    counts_tag: bytes,
    samples_tag: bytes,
    tail: bytes,
    /,
) -> list[tuple[int, None, bytes]]: ...
