"""One options object for the whole product.

:class:`Options` carries every choice a user can make about an analysis, the
same set the command line offers: which rules run (``select`` / ``ignore``),
the profile where RFCs disagree (``events_rfc``), limits (``message_body_limit``),
private extensions that are not to be reported (``extra_methods``,
``extra_headers``), and how ladders name their columns (``aliases``,
``per_host``).  ``analyze(path, **options)`` builds one from keywords;
``analyze(path, options=Options(...))`` takes a ready one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

# RFC 3428 §8: "The size of MESSAGE requests outside of a media session MUST
# NOT exceed 1300 bytes".  The product applies the same figure to MESSAGE
# bodies by default (a body over it is the usual cause of an oversized
# request); users with another budget set Options.message_body_limit.
MESSAGE_BODY_LIMIT = 1300

EVENTS_RFCS = ("6665", "3265")


@dataclass(frozen=True, slots=True)
class Options:
    """What to check and how to show it.

    ``select`` / ``ignore`` are glob patterns over rule IDs (``HDR-*``,
    ``CSEQ-[12]``); a rule runs when some ``select`` pattern matches it and
    no ``ignore`` pattern does (case-insensitive).  ``events_rfc`` is
    ``"6665"`` (default) or ``"3265"``: in 3265 mode requirements that RFC
    6665 made stricter are reported with the milder severity the rule
    declares.  ``message_body_limit`` is the MESSAGE body size in bytes
    above which MSG-14 reports.  ``extra_methods`` / ``extra_headers`` are
    private extension methods and header names (any case) that are not to
    be reported as unknown or misspelled.

    ``aliases`` renames ladder columns: ``{"10.0.0.1": "proxy"}`` names every
    port of that host, ``{"10.0.0.1:5060": "pcscf"}`` one endpoint (a mapping
    or pairs; kept as sorted pairs so the object stays hashable).
    ``per_host`` merges a host's ports into one ladder column.

    A single string given for ``select``, ``ignore``, ``extra_methods`` or
    ``extra_headers`` is read as a comma-separated list.

    Raises:
        ValueError: an unknown ``events_rfc``, a negative body limit or an
            empty alias name.
    """

    select: tuple[str, ...] = ("*",)
    ignore: tuple[str, ...] = ()
    events_rfc: str = "6665"
    message_body_limit: int = MESSAGE_BODY_LIMIT
    extra_methods: frozenset[str] = frozenset()
    extra_headers: frozenset[str] = frozenset()
    aliases: tuple[tuple[str, str], ...] = ()
    per_host: bool = False

    def __post_init__(self) -> None:
        events_rfc = str(self.events_rfc)
        if events_rfc not in EVENTS_RFCS:
            raise ValueError(f"events_rfc must be '6665' or '3265', not {self.events_rfc!r}")
        object.__setattr__(self, "events_rfc", events_rfc)
        if self.message_body_limit < 0:
            raise ValueError(f"message_body_limit must be >= 0, not {self.message_body_limit}")
        object.__setattr__(self, "select", _patterns(self.select) or ("*",))
        object.__setattr__(self, "ignore", _patterns(self.ignore))
        # Header names are case-insensitive (RFC 3261 §7.3.1); methods are not.
        object.__setattr__(
            self, "extra_headers", frozenset(h.lower() for h in _patterns(self.extra_headers))
        )
        object.__setattr__(self, "extra_methods", frozenset(_patterns(self.extra_methods)))
        pairs = _alias_pairs(self.aliases)
        for key, name in pairs:
            if not key or not name:
                raise ValueError(f"an alias needs an address and a name, not {key!r}={name!r}")
        object.__setattr__(self, "aliases", pairs)

    @property
    def alias_map(self) -> dict[str, str]:
        """``aliases`` as a dict (address or address:port → name)."""
        return dict(self.aliases)

    @classmethod
    def from_keywords(cls, options: Options | None = None, **keywords: Any) -> Options:
        """``options`` (or the defaults) with ``keywords`` replacing fields.

        Raises:
            TypeError: a keyword that is not an option (the message lists them).
        """
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(keywords) - names)
        if unknown:
            raise TypeError(
                f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                f"options are {', '.join(sorted(names))}"
            )
        base = options if options is not None else cls()
        values = {n: getattr(base, n) for n in names}
        values.update(keywords)
        return cls(**values)


def _patterns(value: str | Iterable[str]) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    return tuple(p.strip() for p in items if p.strip())


def _alias_pairs(
    value: Mapping[str, str] | Iterable[tuple[str, str]],
) -> tuple[tuple[str, str], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple(sorted((str(k).strip(), str(v).strip()) for k, v in items))
