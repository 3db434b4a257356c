"""The stream worker process (``aidevops worker``): Faust app, scoring agent, /metrics."""
