"""Every error code of the engine maps to a ``ferrio.exceptions`` class: the table comes from the native
module (``_native.ERROR_CLASSES``, built from the core's ``ErrorCode::ALL``), so a code added to the core
without a Python class fails here. Run: .venv/bin/python -m pytest bindings/python/tests -q
"""

from __future__ import annotations

import builtins

from ferrio import _native, exceptions


def test_every_error_code_maps_to_a_ferrio_exception_class() -> None:
    table = _native.ERROR_CLASSES
    numbers = [number for number, _, _ in table]
    assert numbers == list(range(len(table))), "the codes are numbered 0, 1, 2, … in order"
    assert len({name for _, name, _ in table}) == len(table), "the names are unique"
    for number, name, class_name in table:
        if name == "Ok":
            assert class_name is None, "Ok is no error"
            continue
        assert class_name is not None, f"error code {number} ({name}) has no exception class"
        error_class = getattr(exceptions, class_name, None)
        assert isinstance(error_class, type), f"{name}: ferrio.exceptions has no class {class_name}"
        assert issubclass(error_class, exceptions.FerrioError), f"{name}: {class_name} is not a FerrioError"
        assert class_name in exceptions.__all__
    print(f"{len(table) - 1} error codes, each a FerrioError subclass of ferrio.exceptions")


def test_the_classes_users_catch_are_kept() -> None:
    classes = {name: class_name for _, name, class_name in _native.ERROR_CLASSES}
    assert classes["Timeout"] == "AckTimeoutError"
    assert issubclass(exceptions.AckTimeoutError, builtins.TimeoutError)
    assert classes["Disconnected"] == "DisconnectedError"
    assert classes["LimitExceeded"] == "EmitError"
    assert classes["QueueFull"] == "EmitError"
    assert classes["ServerGone"] == "ServerClosedError"
    assert classes["IoError"] == "ListenError"
    # What used to be a plain ValueError is still one.
    assert classes["InvalidArgument"] == "InvalidArgumentError"
    assert issubclass(exceptions.InvalidArgumentError, ValueError)
    assert classes["ReservedEvent"] == "ReservedEventError"
    assert issubclass(exceptions.ReservedEventError, ValueError)
    # What used to be an EmitError is still one.
    assert issubclass(exceptions.ReservedEventError, exceptions.EmitError)
    assert issubclass(exceptions.AdapterError, exceptions.EmitError)
