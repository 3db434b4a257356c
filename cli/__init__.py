"""The ``aidevops`` command line and the local launchers (``aidevops up``, ``demo``)."""
