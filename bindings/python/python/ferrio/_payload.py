"""python-socketio's conventions for arguments, rooms and acknowledgements, and the types naming them.

Every operation that sends or answers goes through these helpers, so that ``emit``, ``call``, the
broadcast operator and acks all read ``data`` and ``to=``/``skip_sid=`` the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar, Union

Handler = Callable[..., Any]
H = TypeVar("H", bound=Handler)
Rooms = Union[str, Iterable[str]]


def _args(data: Any) -> tuple[Any, ...]:
    """python-socketio's convention: a tuple is several arguments, None is none, anything else is one."""
    if data is None:
        return ()
    if isinstance(data, tuple):
        return data
    return (data,)


def _rooms(rooms: Rooms | None) -> list[str] | None:
    if rooms is None:
        return None
    if isinstance(rooms, str):
        return [rooms]
    return [str(r) for r in rooms]


def _ack_value(args: Sequence[Any]) -> Any:
    """python-socketio's ``call()`` result: one argument as itself, several as a tuple, none as None."""
    if len(args) > 1:
        return tuple(args)
    if len(args) == 1:
        return args[0]
    return None
