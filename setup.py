"""The one build step pyproject.toml cannot declare: the receiver's optional C module.

``receiver/_wire.c`` is built when a C compiler and Python's headers are there (``./dev``
installs them); ``optional=True`` lets the installation go on without it, and the receiver
then runs the same steps in Python (``receiver.decoding``, ``aidevops.batches``).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("receiver._wire", ["receiver/_wire.c"], optional=True)])
