"""The exception tree: context carried as attributes, messages left as given."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from nitrogen_capture.errors import (
    ConfigError,
    NitrogenCaptureError,
    SessionError,
    SessionFormatError,
    TargetError,
    TargetNotFound,
    check_settings,
)


def test_session_format_error_is_usable_with_a_message_only() -> None:
    err = SessionFormatError("chunk 2: actions has 9 rows, timestamps 10")
    assert str(err) == "chunk 2: actions has 9 rows, timestamps 10"
    assert (err.chunk, err.path, err.field) == (None, None, None)
    assert isinstance(err, SessionError) and isinstance(err, NitrogenCaptureError)
    with pytest.raises(SessionFormatError, match="9 rows"):
        raise err


def test_session_format_error_carries_chunk_path_and_field() -> None:
    path = Path("runs/s1/actions_chunk_002.npy")
    err = SessionFormatError("truncated", chunk=2, path=path, field="actions")
    assert str(err) == "truncated" and err.args == ("truncated",)
    assert (err.chunk, err.path, err.field) == (2, path, "actions")


def test_attributes_survive_pickling() -> None:
    """Errors cross process boundaries (export workers): the attributes must come along."""
    err = pickle.loads(pickle.dumps(SessionFormatError("bad", chunk=3, path=Path("x"),
                                                       field="meta")))
    assert (str(err), err.chunk, err.path, err.field) == ("bad", 3, Path("x"), "meta")
    near = pickle.loads(pickle.dumps(TargetNotFound("no window", near_matches=["'Game' (1)"])))
    assert (str(near), near.near_matches) == ("no window", ("'Game' (1)",))


def test_target_not_found_near_matches() -> None:
    err = TargetNotFound("no window for process Game.exe")
    assert err.near_matches == () and isinstance(err, TargetError)
    err = TargetNotFound("no window", near_matches=["'Game' (process game, PID 7)"])
    assert err.near_matches == ("'Game' (process game, PID 7)",)
    assert str(err) == "no window"


def test_check_settings_raises_the_first_failed_check_with_its_setting() -> None:
    check_settings([(True, "fps", "fine"), (True, "seed", "fine too")])  # all ok: no error
    with pytest.raises(ConfigError) as info:
        check_settings(iter([(True, "fps", "ok"), (False, "tiles", "--tiles must be 1..400"),
                             (False, "width", "never reached")]))
    assert str(info.value) == "--tiles must be 1..400" and info.value.setting == "tiles"
