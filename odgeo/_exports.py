"""Names a package hands on from its modules, imported on first use so that importing a package stays cheap."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of a package whose ``__all__`` is ``exports``.

    Parameters
    ----------
    package
        The package's ``__name__``.
    exports
        Each exported name and the module of the package (relative, dotted) that defines it.

    Returns
    -------
    tuple
        ``(__getattr__, __dir__)`` to assign at the package's top level.
    """
    namespace = import_module(package).__dict__

    def getattr_(name: str) -> object:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f".{module}", package), name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted(namespace.get("__all__", exports))

    return getattr_, dir_
