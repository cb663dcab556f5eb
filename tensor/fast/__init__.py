"""The engine room, tensor side (see tensor/kernels.py): importing this package registers its stand-ins."""

from . import powers  # noqa: F401  x ** n by products
