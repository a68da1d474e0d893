"""``label``: show or edit the labels of one or many sessions (meta.json ``labels``).

``label --root S`` prints a session's labels. With an option it edits them and
rewrites ``meta.json`` atomically, holding that session's lock so that no recording or merge
rewrites meta.json at the same time: ``--game``, ``--notes``, ``--controller``, ``--task``
(``""`` clears it) and ``--outcome`` (``none`` clears it) replace; ``--tag`` adds and
``--untag`` removes free-form tags. Many sessions may be given at once (``--root A B C``,
``--root A --root B``, ``--root day/*``): each is locked and written on its own, a locked or
damaged one is reported in one line while the others are still labelled, and the exit is 1 if
any failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from ..session.labels import CONTROLLERS, MAX_TAGS, OUTCOMES, Labels

__all__ = ["LabelEdit", "add_parser", "edit_labels", "run"]

# --outcome's word for "not marked" (meta.json null).
_NO_OUTCOME = "none"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``label``."""
    from .args import add_common, path_arg

    lab: argparse.ArgumentParser = sub.add_parser(
        "label", help="show or edit the labels of one or many sessions",
        description="Print each session's labels (meta.json 'labels'); with an option, change "
                    "them and rewrite meta.json atomically under the session's lock. A session "
                    "being recorded or merged, or a damaged one, is reported in one line and "
                    "the others are still labelled (exit 1 if any failed).")
    # Sessions are --root values, not positionals: `--root day/*` takes a shell glob, and a
    # stray word stays a usage error.
    lab.add_argument("--root", action="extend", nargs="+", required=True, type=path_arg,
                     metavar="SESSION", help="session directories: --root A B C, or --root A "
                                             "--root B")
    lab.add_argument("--game", help="the game played")
    lab.add_argument("--notes", help="free-form notes (replace the old ones)")
    lab.add_argument("--controller", choices=CONTROLLERS, help="the controller played with")
    lab.add_argument("--task", help="the task the player was given (the LeRobot task text; "
                                    "'' clears it)")
    lab.add_argument("--outcome", choices=(*OUTCOMES, _NO_OUTCOME),
                     help="how the episode ended ('discarded': exports leave it out unless "
                          "asked; 'none' clears it)")
    lab.add_argument("--tag", action="append", default=[], metavar="TAG",
                     help="add a free-form tag (repeatable)")
    lab.add_argument("--untag", action="append", default=[], metavar="TAG",
                     help="remove a tag (repeatable; a tag the session lacks is ignored)")
    add_common(lab)
    return lab


@dataclasses.dataclass(frozen=True)
class LabelEdit:
    """What ``label`` changes: fields to replace, tags to add and tags to remove."""

    replace: dict[str, Any]
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """Whether nothing is to change (``label`` then prints the labels)."""
        return not (self.replace or self.add_tags or self.remove_tags)


def edit_labels(labels: Labels, edit: LabelEdit) -> Labels:
    """``labels`` with ``edit`` applied (tags kept sorted and unique).

    Raises:
        SessionError: the session would hold more than :data:`MAX_TAGS` tags.
    """
    from ..errors import SessionError

    tags = (set(labels.tags) | set(edit.add_tags)) - set(edit.remove_tags)
    if len(tags) > MAX_TAGS:
        raise SessionError(f"it would hold {len(tags)} tags, at most {MAX_TAGS} are allowed "
                           "(--untag some first)")
    return dataclasses.replace(labels, **edit.replace, tags=tuple(sorted(tags)))


def _edit_of(args: argparse.Namespace) -> LabelEdit:
    from ..config import check_labels

    replace = {k: v for k in ("game", "notes", "controller", "task")
               if (v := getattr(args, k)) is not None}
    outcome = args.outcome
    if outcome is not None:
        replace["outcome"] = None if outcome == _NO_OUTCOME else outcome
    check_labels(replace.get("game"), replace.get("notes"), replace.get("controller"),
                 task=replace.get("task"), outcome=replace.get("outcome"),
                 tags=(*args.tag, *args.untag))
    return LabelEdit(replace, tuple(args.tag), tuple(args.untag))


def _label_one(root: Path, edit: LabelEdit) -> str:
    """Show or edit the labels of session ``root``; the line to print."""
    from ..errors import SessionError
    from ..session.meta import SessionMeta, rewrite_meta
    from ..session.paths import SessionPaths

    if not root.is_dir():
        raise SessionError(f"--root {root} is not a directory")
    paths = SessionPaths(root)
    if edit.empty:
        meta = SessionMeta.load(paths.meta)
        stored = "" if meta.labels is not None else " (not stored: the recording defaults)"
        return meta.effective_labels.describe() + stored
    SessionMeta.load(paths.meta)  # not a session, or a damaged one: refused before locking it

    def change(meta: SessionMeta) -> None:
        meta.labels = edit_labels(meta.effective_labels, edit)

    return rewrite_meta(root, change).effective_labels.describe()


def run(args: argparse.Namespace) -> int:
    """Print, or edit, the labels of each session given."""
    from ..errors import NitrogenCaptureError
    from .output import one_line

    roots: list[Path] = list(dict.fromkeys(args.root))
    edit = _edit_of(args)  # bad options: one line, exit 2, before any session is touched
    if len(roots) == 1:  # one session: its error is the command's (one line, exit 1)
        line = _label_one(roots[0], edit)
        print(line if edit.empty else f"{roots[0]}: {line}")
        return 0
    failed = 0
    for root in roots:
        try:
            print(f"{root}: {_label_one(root, edit)}", flush=True)
        except (NitrogenCaptureError, OSError) as exc:
            failed += 1
            text = (str(exc) if isinstance(exc, NitrogenCaptureError)
                    else exc.strerror or str(exc))
            text = text if str(root) in text else f"{root}: {text}"
            print(f"nitrogen-capture label: error: {one_line(text)}", file=sys.stderr,
                  flush=True)
    if failed:
        print(f"nitrogen-capture label: {failed} of {len(roots)} session(s) not "
              f"{'labelled' if not edit.empty else 'read'}", file=sys.stderr)
        return 1
    return 0
