"""Keep pytest's doctest collection away from generated protobuf modules."""

collect_ignore_glob = ["aidevops/pb/*_pb2.py"]
