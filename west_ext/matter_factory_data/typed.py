"""Typed command requests: the parameters of a command body, without argparse.

A request class lists its parameters as annotated class attributes; the class value is
the default. Construction is by keyword, unknown names are refused, so a typo in a front
end fails at once. A plain class, not a dataclass: importing ``dataclasses`` costs ~15 ms
of start-up, a sixth of a ``generate`` run. Every front end (argparse, a recorded build
step, a test, a station script) builds requests the same way: ``SomeRequest(name=value)``.
"""

from __future__ import annotations

from typing import Any


class Request:
    """Base of every command request."""

    def __init__(self, **values: Any) -> None:
        unknown = set(values) - self.parameters()
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown parameter(s): "
                            f"{', '.join(sorted(unknown))}")
        self.__dict__.update(values)

    @classmethod
    def parameters(cls) -> frozenset:
        """The parameter names (annotations of the class and its bases)."""
        names: set = set()
        for klass in cls.__mro__:
            names.update(getattr(klass, "__annotations__", {}))
        return frozenset(names)

    def replace(self, **changes: Any):
        """A copy with some parameters changed."""
        values = {name: getattr(self, name) for name in self.parameters()}
        values.update(changes)
        return type(self)(**values)

    def given(self) -> dict:
        """The parameters that differ from their defaults."""
        return {name: getattr(self, name) for name in sorted(self.parameters())
                if getattr(self, name) != getattr(type(self), name, None)}

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.given().items())
        return f"{type(self).__name__}({shown})"
