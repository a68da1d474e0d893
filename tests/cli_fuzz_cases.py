"""The cases of ``tests/cli/test_cli_fuzz.py``, generated from the CLI's own argparse parsers.

Every subcommand of :func:`nitrogen_capture.cli.build_parser` has a valid command line
(:data:`BASE`) over a world folder ``@W@`` (a valid session ``sess/``, a plain folder, a
foreign file, a FIFO, a valid layout, keymap, session list and latency profile); each case
changes ONE thing in it: one flag set to one hostile value, given twice, given without its
value or left out, or an unknown flag or stray word added. A flag's values come from its kind,
read off its argparse action (a switch, a choice, ``int``, ``float``, four ints, a path, free
text); a path's role (a session to read, a file to read, a file or folder to write...) is not
in argparse, so :data:`PATH_ROLES` names it, and :func:`classify` raises
:class:`Unclassified` for a flag it cannot place, so a new flag is fuzzed, or the test fails.

Each value says whether it can be valid: ``valid=False`` means the command must refuse it
(non-zero, and it must not reach its work), ``usage=True`` that the refusal is a usage error
(exit 2: a bad flag value, a number out of bounds, a bad file given to a flag).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from nitrogen_capture import cli

W = "@W@"  # the case's world folder (cli_fuzz_worker puts it in)
LONG = "x" * 10_000
POSIX = hasattr(os, "mkfifo")  # FIFOs, and file names of any bytes
NOT_UTF8 = "\udcff"  # the byte 0xff of a file name, as Python sees it (PEP 383)


class Unclassified(AssertionError):
    """A flag whose kind the generator does not know: teach it (PATH_ROLES, CUSTOM_TYPES)."""


@dataclass(frozen=True)
class Value:
    """One value for a flag: the argv words after the flag and what the command must do."""

    label: str
    words: tuple[str, ...]
    valid: bool | None = None  # False: must be refused; None: may be accepted
    usage: bool = False  # refused as a usage error (exit 2)
    posix: bool = False  # needs POSIX: a FIFO, a file name that is not UTF-8


@dataclass(frozen=True)
class Case:
    """One command line to run and what it must do."""

    command: str
    flag: str
    label: str
    argv: tuple[str, ...]
    valid: bool | None = None
    usage: bool = False
    posix: bool = False
    real: bool = True  # record: really record (False: stop where the recording would start)

    @property
    def id(self) -> str:
        """A readable name for reports."""
        return f"{self.command} {self.flag or '-'} {self.label}"


# A valid command line of each subcommand; every case changes one thing in it.
BASE: dict[str, tuple[str, ...]] = {
    "record": ("--source", "synthetic", "--out", f"{W}/rec", "--region", "0", "0", "64", "48",
               "--max-frames", "2", "--seconds", "1.5", "--chunk-size", "2",
               "--status-interval", "0", "--cue", "none", "--encoder-workers", "1",
               "--no-merge"),
    "windows": (),
    "audio-sources": ("--backend", "synthetic"),
    "merge": ("--root", f"{W}/sess", "--no-progress"),
    "validate": ("--root", f"{W}/sess"),
    "convert": ("--root", f"{W}/sess", "--out", f"{W}/out.pt", "--no-progress"),
    "demo": ("--out", f"{W}/demo"),
    "preview": ("--root", f"{W}/sess", "--out", f"{W}/pv", "--no-progress"),
    "label": ("--root", f"{W}/sess", "--game", "g"),
    "sessions": (W,),
    "report": ("--root", f"{W}/sess", "--out", f"{W}/r.html", "--tiles", "2", "--no-progress"),
    "calibrate": ("--save", f"{W}/profile-new.json"),
    # play records like record (the synthetic source; its output is then `none`, a dry run).
    "play": ("--policy", "idle", "--source", "synthetic", "--out", f"{W}/play", "--region", "0",
             "0", "64", "48", "--max-frames", "2", "--seconds", "1.5", "--chunk-size", "2",
             "--status-interval", "0", "--cue", "none", "--encoder-workers", "1", "--no-merge"),
}
# The commands that record: most of their cases stop where the recording would start.
RECORDING = frozenset({"record", "play"})

# Flags that only act in another setting are fuzzed from a valid line that has it (a png
# recording ignores --video-crf by design; a single-session convert has no --jobs).
_DATASET = ("--root", f"{W}/sess", "--out", f"{W}/ds", "--format", "nitrogen-dataset",
            "--no-progress")
_LEROBOT = ("--root", f"{W}/sess", "--out", f"{W}/lr", "--format", "lerobot", "--no-progress")
_BATCH = ("--root", W, "--recursive", "--jobs", "1", "--out", f"{W}/out.pt", "--no-progress")
# A collection run (record --episodes): --out-dir instead of --out, one episode.
_RUN = (*(w for w in BASE["record"] if w not in ("--out", f"{W}/rec")), "--out-dir", f"{W}/runs")
FLAG_BASES: dict[tuple[str, str], tuple[str, ...]] = {
    # --out with the final merge, whose last lines name the session and its export.
    ("record", "--out"): tuple(w for w in BASE["record"] if w != "--no-merge"),
    **{(c, f): (*BASE[c], "--frame-format", "video") for c in ("record", "play")
       for f in ("--video-crf", "--video-preset", "--video-encoder")},
    **{("convert", f): _DATASET for f in ("--game", "--no-video")},
    **{("record", f): _RUN for f in ("--episodes", "--episode-seconds", "--reset-seconds",
                                     "--task", "--tasks")},
    ("record", "--out-dir"): tuple(w for w in BASE["record"] if w not in ("--out", f"{W}/rec")),
    **{("convert", f): _LEROBOT for f in ("--task", "--repo-id", "--episode-per", "--fps")},
    **{("convert", f): _BATCH for f in ("--jobs", "--task-frames", "--engine", "--ray-address",
                                        "--keep-idle")},
}

# (command, dest) -> the role of a path flag: what the command does with the path.
PATH_ROLES: dict[tuple[str, str], str] = {
    ("record", "out"): "new-dir",
    ("record", "layout_file"): "file-in:layout.toml",
    ("record", "latency_profile_file"): "file-in:profile.json",
    ("record", "out_dir"): "out-dir",
    ("record", "tasks_file"): "file-in:tasks.txt",
    ("merge", "root"): "session",
    ("validate", "root"): "session",
    ("convert", "root"): "session",
    ("convert", "out"): "file-out:.pt",
    ("convert", "keymap"): "file-in:keymap.toml",
    ("convert", "session_list"): "file-in:list.txt",
    ("demo", "out"): "new-dir",
    ("demo", "layout"): "file-in:layout.toml",
    ("preview", "root"): "session",
    ("preview", "out"): "out-dir",
    ("label", "root"): "session",
    ("sessions", "dir"): "folder",
    ("report", "root"): "session-or-folder",
    ("report", "out"): "file-out:.html",
    ("report", "contact_sheet"): "file-out:.png",
    ("calibrate", "save"): "file-out:.json",
    ("calibrate", "keep_session"): "new-dir",
    ("play", "out"): "new-dir",
    ("play", "layout_file"): "file-in:layout.toml",
    ("play", "latency_profile_file"): "file-in:profile.json",
    ("play", "keymap"): "file-in:keymap.toml",
}

# record records for real (synthetic source, two frames) with these values and with the first
# value of each flag that may be valid; with the others it stops where the recording would
# start, after every check of its flags (cli_fuzz_worker), to keep the pass short.
REAL_RECORD_LABELS = frozenset({"0", "1e-300", "given", "left-out", "other", "narrow",
                                "negative-origin", "1x1", "=video", "=pynput", "surrogate",
                                "dot"})

# Types other than int, float, str and paths, by name: their kind.
CUSTOM_TYPES: dict[str, str] = {"_parse_size": "size"}

# -- values ------------------------------------------------------------------------------------
_BAD_TEXT = (
    Value("empty", ("",)), Value("space", (" ",)), Value("tab-newline", ("\t\n",)),
    Value("emoji", ("🎮",)), Value("rtl", ("שלום",)), Value("combining", ("e\u0301",)),
    Value("rtl-override", ("\u202egnp.x",)), Value("zero-width", ("\u200b",)),
    Value("surrogate", ("\udcff",)), Value("long", (LONG,)), Value("dash-word", ("-x",)),
)
_HUGE = (Value("10**30", (str(10**30),)), Value("-10**30", (str(-(10**30)),)),
         Value("1e308", ("1e308",)), Value("1e999", ("1e999",)), Value("-1e999", ("-1e999",)))
_NONFINITE = (Value("nan", ("nan",)), Value("inf", ("inf",)), Value("-inf", ("-inf",)))
_SMALL = (Value("-1", ("-1",)), Value("0", ("0",)), Value("1", ("1",)))


def _refused(values: tuple[Value, ...], usage: bool = True) -> tuple[Value, ...]:
    return tuple(replace(v, valid=False, usage=usage) for v in values)


def _int_values() -> tuple[Value, ...]:
    return (*_SMALL, Value("arabic-digits", ("٣",)), Value("padded", (" 7 ",)),
            *_refused((*_BAD_TEXT, *_HUGE, *_NONFINITE, Value("float-text", ("1.5",)),
                       Value("hex", ("0x10",)), Value("exponent", ("1e3",)))))


def _float_values() -> tuple[Value, ...]:
    return (*_SMALL, Value("0.5", ("0.5",)), Value("1e-300", ("1e-300",)),
            Value("5e-324", ("5e-324",)), Value("-0.0", ("-0.0",)), Value("1_0", ("1_0",)),
            *_refused((*_BAD_TEXT, *_HUGE, *_NONFINITE, Value("1e5x", ("1e5x",)))))


def _text_values() -> tuple[Value, ...]:
    return (*_BAD_TEXT, *_SMALL, *_HUGE[:1])


def _region_values() -> tuple[Value, ...]:
    def four(label: str, *c: str, valid: bool | None = False) -> Value:
        return Value(label, c, valid=valid, usage=valid is False)
    return (four("other", "8", "8", "72", "56", valid=None),
            four("narrow", "0", "0", "32", "24", valid=None),
            four("negative-origin", "-64", "-48", "0", "0", valid=None),
            four("1x1", "0", "0", "1", "1", valid=None),
            four("inverted", "64", "48", "0", "0"), four("empty", "0", "0", "0", "0"),
            four("huge", "0", "0", str(10**30), "48"), four("nan", "0", "0", "nan", "48"),
            four("unicode", "0", "0", "🎮", "48"), four("too-big", "0", "0", "100000", "48"))


def _size_values() -> tuple[Value, ...]:
    return (Value("640x480", ("640x480",)),
            *_refused((*_BAD_TEXT, Value("0x0", ("0x0",)), Value("-1x-1", ("-1x-1",)),
                       Value("huge", (f"{10**30}x{10**30}",)), Value("nan", ("nanxnan",)),
                       Value("no-x", ("640",)), Value("100000x100000", ("100000x100000",)))))


def _choice_values(choices: list[str]) -> tuple[Value, ...]:
    good = tuple(Value(f"={c}", (c,)) for c in choices)
    first = choices[0]
    bad = [Value("upper", (first.upper(),)), Value("prefix", (first[:-1],))]
    bad = [v for v in bad if v.words[0] not in choices]
    return (*good, *_refused((*_BAD_TEXT, *bad)))


def _missing_common(what: str) -> tuple[Value, ...]:
    """Paths that name nothing usable where ``what`` is expected (all refused)."""
    return _refused((
        Value("missing", (f"{W}/missing",)), Value("unicode-missing", (f"{W}/🎮 שלום e\u0301",)),
        Value("surrogate-missing", (f"{W}/\udcff",)),
        Value("newline-missing", (f"{W}/a\nb",)), Value("long", (f"{W}/{LONG}",)),
        Value("long-name", (f"{W}/{'n' * 300}",)), Value("fifo", (f"{W}/fifo",), posix=True),
        Value("dev-null", ("/dev/null",)),
    ), usage=what == "file-in") + _refused((Value("empty", ("",)), Value("space", (" ",))))


def _path_values(role: str) -> tuple[Value, ...]:
    kind, _, arg = role.partition(":")
    if kind in ("session", "session-or-folder"):
        folder_ok = None if kind == "session-or-folder" else False
        return (Value("session", (f"{W}/sess",)), Value("relative", ("../sess",)),
                Value("dotdot", (f"{W}/plain/../sess",)),
                Value("session-not-utf8", (f"{W}/{NOT_UTF8}sess",), posix=True),
                Value("plain-dir", (f"{W}/plain",), valid=folder_ok),
                Value("empty-dir", (f"{W}/cwd",), valid=folder_ok),
                Value("dot", (".",), valid=folder_ok), Value("dot-dot", ("..",), valid=folder_ok),
                Value("file", (f"{W}/file.txt",), valid=False), *_missing_common(kind))
    if kind == "folder":
        return (Value("world", (W,)), Value("relative", ("..",)), Value("dot", (".",)),
                Value("session", (f"{W}/sess",)),
                Value("plain-dir", (f"{W}/plain",)),
                Value("file", (f"{W}/file.txt",), valid=False), *_missing_common(kind))
    if kind == "file-in":
        # Any line of text is a task: a tasks file has no foreign content to refuse.
        foreign = Value("foreign-file", (f"{W}/file.txt",))
        free_text = arg == "tasks.txt"
        return (Value("valid", (f"{W}/{arg}",)), Value("relative", (f"../{arg}",)),
                *((foreign,) if free_text else ()),
                *_refused((Value("plain-dir", (f"{W}/plain",)), Value("dot", (".",)),
                           Value("session-dir", (f"{W}/sess",)),
                           *(() if free_text else (foreign,)))),
                *_missing_common(kind))
    if kind == "file-out":
        return (Value("new", (f"{W}/new{arg}",)), Value("relative", (f"new{arg}",)),
                Value("unicode", (f"{W}/🎮 שלום e\u0301{arg}",)),
                Value("surrogate", (f"{W}/\udcff{arg}",)),
                Value("dotdot", (f"{W}/plain/../new{arg}",)),
                Value("missing-parent", (f"{W}/missing/new{arg}",)),
                Value("inside-session", (f"{W}/sess/new{arg}",)),
                Value("other-suffix", (f"{W}/new.txt",)),
                *_refused((Value("plain-dir", (f"{W}/plain",)), Value("dot", (".",)),
                           Value("session-dir", (f"{W}/sess",)),
                           Value("session-meta", (f"{W}/sess/meta.json",)),
                           Value("foreign-file", (f"{W}/file.txt",)),
                           Value("long-name", (f"{W}/{'n' * 300}{arg}",)),
                           Value("long", (f"{W}/{LONG}{arg}",)),
                           Value("fifo", (f"{W}/fifo",), posix=True),
                           Value("dev-null", ("/dev/null",))), usage=False),
                *_refused((Value("empty", ("",)), Value("space", (" ",)))))
    if kind in ("new-dir", "out-dir"):
        existing_ok = None if kind == "out-dir" else False
        return (Value("new", (f"{W}/newdir",)), Value("relative", ("newdir",)),
                Value("unicode", (f"{W}/🎮 שלום e\u0301",)),
                Value("surrogate", (f"{W}/\udcff",)),
                Value("dotdot", (f"{W}/plain/../newdir",)),
                Value("missing-parent", (f"{W}/missing/deep",)),
                Value("empty-dir", (f"{W}/cwd",)), Value("dot", (".",)),
                Value("dot-dot", ("..",), valid=existing_ok),
                Value("plain-dir", (f"{W}/plain",), valid=existing_ok),
                Value("session-dir", (f"{W}/sess",), valid=existing_ok),
                Value("inside-session", (f"{W}/sess/newdir",), valid=existing_ok),
                *_refused((Value("file", (f"{W}/file.txt",)),
                           Value("long-name", (f"{W}/{'n' * 300}",)),
                           Value("long", (f"{W}/{LONG}",)),
                           Value("fifo", (f"{W}/fifo",), posix=True),
                           Value("dev-null", ("/dev/null",))), usage=False),
                *_refused((Value("empty", ("",)), Value("space", (" ",)))))
    raise Unclassified(f"unknown path role {role!r}")


# -- the parsers -------------------------------------------------------------------------------
def subparsers() -> dict[str, argparse.ArgumentParser]:
    """Every subcommand's parser, from the CLI's own :func:`~nitrogen_capture.cli.build_parser`."""
    parser = cli.build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise Unclassified("the CLI has no subcommands")


def fuzzed_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The actions of ``parser`` that take input (not --help)."""
    return [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]


def classify(command: str, action: argparse.Action) -> str:
    """The kind of a flag: switch, choice, int, float, int4, text, size, or path:<role>."""
    name = "/".join(action.option_strings) or action.dest
    if isinstance(action, argparse._StoreConstAction | argparse._StoreTrueAction):
        return "switch"
    if action.choices is not None:
        return "choice"
    t = action.type
    if t in (cli.path_arg, Path) or (command, action.dest) in PATH_ROLES:
        role = PATH_ROLES.get((command, action.dest))
        if role is None:
            raise Unclassified(f"{command} {name}: a path flag with no role in PATH_ROLES")
        return "path:" + role
    if t is int:
        if action.nargs == 4:
            return "int4"
        if action.nargs not in (None, "?"):
            raise Unclassified(f"{command} {name}: int with nargs={action.nargs!r}")
        return "int"
    if t is float and action.nargs is None:
        return "float"
    if t is None and action.nargs is None:
        return "text"
    kind = CUSTOM_TYPES.get(getattr(t, "__name__", ""))
    if kind is None:
        raise Unclassified(f"{command} {name}: type {t!r} nargs={action.nargs!r} is not known "
                           "to the fuzz (tests/cli_fuzz_cases.py)")
    return kind


def values(kind: str, action: argparse.Action) -> tuple[Value, ...]:
    """The values of a flag of ``kind``."""
    if kind == "switch":
        return (Value("given", ()),)
    if kind == "choice":
        return _choice_values([str(c) for c in action.choices or ()])
    table = {"int": _int_values, "float": _float_values, "text": _text_values,
             "int4": _region_values, "size": _size_values}
    if kind in table:
        return table[kind]()
    if kind.startswith("path:"):
        return _path_values(kind[5:])
    raise Unclassified(kind)


# -- command lines -----------------------------------------------------------------------------
def _span(argv: tuple[str, ...], action: argparse.Action) -> tuple[int, int] | None:
    """Where ``action``'s flag and its words are in ``argv`` (first occurrence)."""
    if not action.option_strings:  # the positional of `sessions`: the first word
        return (0, 1) if argv else None
    n = 0 if action.nargs == 0 else action.nargs if isinstance(action.nargs, int) else 1
    for i, word in enumerate(argv):
        if word in action.option_strings:
            return i, i + 1 + n
    return None


def with_value(argv: tuple[str, ...], action: argparse.Action,
               words: tuple[str, ...]) -> tuple[str, ...]:
    """``argv`` with ``action`` given ``words`` (replacing its value in ``argv``, if any)."""
    new = words if not action.option_strings else (action.option_strings[0], *words)
    span = _span(argv, action)
    if span is None:
        return (*new, *argv) if not action.option_strings else (*argv, *new)
    return (*argv[:span[0]], *new, *argv[span[1]:])


def without(argv: tuple[str, ...], action: argparse.Action) -> tuple[str, ...]:
    """``argv`` without ``action``'s flag and words."""
    span = _span(argv, action)
    return argv if span is None else (*argv[:span[0]], *argv[span[1]:])


def passed_on(command: str, action: argparse.Action) -> argparse.Action | None:
    """record's flag that a ``demo`` text flag of the same name passes on to record, if any."""
    if command != "demo" or action.type is not None or not action.option_strings:
        return None
    record = {o: a for a in subparsers()["record"]._actions for o in a.option_strings}
    found = record.get(action.option_strings[0])
    typed = found is not None and (found.type is not None or found.choices is not None)
    return found if typed else None


def flag_cases(command: str, action: argparse.Action) -> Iterator[Case]:
    """The cases of one flag of ``command`` (a flag passed on to record: record's values)."""
    source = passed_on(command, action)
    kind = classify("record", source) if source else classify(command, action)
    if source is None:
        source = action
    flag = action.option_strings[0] if action.option_strings else action.dest.upper()
    base = FLAG_BASES.get((command, flag), BASE[command])
    first = True
    for v in values(kind, source):
        real = command not in RECORDING or v.label in REAL_RECORD_LABELS or (
            first and v.valid is None)
        first = first and v.valid is not None
        yield Case(command, flag, v.label, (command, *with_value(base, action, v.words)),
                   v.valid, v.usage, v.posix, real)
    span = _span(base, action)
    if span is not None:
        required = action.required
        yield Case(command, flag, "left-out", (command, *without(base, action)),
                   False if required else None, required)
    if not action.option_strings:
        yield Case(command, flag, "twice", (command, *base[:1], *base), False, True)
        return
    once = base[span[0] + 1:span[1]] if span is not None else next(
        (v.words for v in values(kind, source) if v.valid is None), ())
    yield Case(command, flag, "twice",
               (command, *with_value(base, action, once), flag, *once),
               real=command not in RECORDING)
    if kind == "switch":
        yield Case(command, flag, "with-value", (command, *without(base, action), f"{flag}=1"),
                   False, True)
    else:
        yield Case(command, flag, "no-value", (command, *without(base, action), flag),
                   False, True)


def _recording_flag(action: argparse.Action) -> bool:
    """A flag ``play`` shares with ``record`` (one function adds both: cli/record.py's
    add_recording_arguments, read by one record_config): fuzzed once, through ``record``.
    ``--out`` is ``play``'s too: it is checked before the policy is loaded."""
    record = {o for a in subparsers()["record"]._actions for o in a.option_strings}
    return bool(action.option_strings) and action.option_strings[0] in record and \
        action.option_strings[0] not in ("--out", "--help", "-h")


def command_cases(command: str, parser: argparse.ArgumentParser) -> Iterator[Case]:
    """Every case of ``command``: each flag's, then unknown flags, stray words, no flags."""
    for action in fuzzed_actions(parser):
        if command == "play" and _recording_flag(action):
            continue
        yield from flag_cases(command, action)
    base = BASE[command]
    required = any(a.required for a in parser._actions)
    yield Case(command, "", "unknown-flag", (command, *base, "--no-such-flag"), False, True)
    yield Case(command, "", "unknown-unicode-flag", (command, *base, "--ünï🎮"), False, True)
    yield Case(command, "", "stray-word", (command, *base, "stray"), False, True)
    yield Case(command, "", "no-arguments", (command,), False if required else None, required)
    yield Case(command, "", "help", (command, "--help"))


def top_cases() -> Iterator[Case]:
    """Command lines without a valid subcommand."""
    yield Case("", "", "version", ("--version",))
    yield Case("", "", "help", ("--help",))
    for label, argv in (("nothing", ()), ("unknown-command", ("nosuch",)), ("empty", ("",)),
                        ("emoji", ("🎮",)), ("flag-only", ("--debug",))):
        yield Case("", "", label, argv, False, True)


def all_cases() -> list[Case]:
    """The whole corpus, subcommand by subcommand."""
    cases = list(top_cases())
    for command, parser in subparsers().items():
        if command not in BASE:
            raise Unclassified(f"subcommand {command} has no valid command line in BASE")
        cases.extend(command_cases(command, parser))
    return cases
