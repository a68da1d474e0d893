"""``--policy`` text -> a :class:`~.policy_base.Policy` (the one lookup; docs/play.md).

=========================  ========================================================
form                       policy
=========================  ========================================================
``nitrogen://HOST:PORT``   NitroGen's model server (:mod:`.nitrogen_policy`)
``random``                 random presses of movement keys (:mod:`.builtin`)
``idle``                   holds nothing (:mod:`.builtin`)
``module:callable``        a Python callable, module dotted or a ``.py`` file (:mod:`.local`)
=========================  ========================================================
"""

from __future__ import annotations

from ..bounds import number_check
from ..errors import ConfigError, check_settings
from .policy_base import Policy, PolicySettings

__all__ = ["FORMS", "load_policy", "parse_nitrogen_address", "policy_checks"]

FORMS = "nitrogen://HOST:PORT, random, idle or module:callable (a dotted module or a .py file)"
_SCHEME = "nitrogen://"


def parse_nitrogen_address(spec: str) -> tuple[str, int]:
    """``nitrogen://HOST:PORT`` (``[::1]:PORT`` for IPv6) -> (host, port)."""
    rest = spec[len(_SCHEME):]
    host, sep, port_text = rest.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    ok = bool(sep and host and port_text.isdigit() and "/" not in host)
    port = int(port_text) if ok else 0
    if not ok or not 1 <= port <= 65535:
        raise ConfigError(f"--policy {spec!r}: expected nitrogen://HOST:PORT with a port in "
                          "1..65535 (NitroGen's server listens on 5555 by default)",
                          setting="spec")
    return host, port


def policy_checks(settings: PolicySettings) -> list[tuple[bool, str, str]]:
    """The range checks of the policy settings (finite, in bounds)."""
    return [
        number_check(settings.img_size, "img_size", "--img-size", 8, 4096),
        number_check(settings.action_hz, "action_hz", "--action-hz", 0, 1000, lo_open=True),
        number_check(settings.timeout_s, "timeout_s", "--policy-timeout", 0, 3600,
                     lo_open=True),
    ]


def load_policy(settings: PolicySettings) -> Policy:
    """The policy ``settings.spec`` names (imports its module only then)."""
    check_settings(policy_checks(settings))
    spec = settings.spec.strip()
    if spec.startswith(_SCHEME):
        from .nitrogen_policy import NitroGenPolicy

        host, port = parse_nitrogen_address(spec)
        return NitroGenPolicy(settings, host, port)
    if spec in ("random", "idle"):
        from .builtin import IdlePolicy, RandomPolicy

        return RandomPolicy(settings) if spec == "random" else IdlePolicy(settings)
    module, sep, attr = spec.rpartition(":")
    if sep and module and attr and "://" not in spec:
        from .local import CallablePolicy

        return CallablePolicy(settings)
    raise ConfigError(f"--policy must be {FORMS}, got {settings.spec!r}", setting="spec")
