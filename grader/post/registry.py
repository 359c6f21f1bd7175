"""The registry of destinations: a name maps to a class, in one table.

Nothing registers itself on import.  :func:`default_registry` builds the
table of built-in destinations with one :meth:`Registry.register` call each;
a library user adds one the same way and passes the registry to
:func:`grader.post.post_results`::

    registry = default_registry()
    registry.register("moodle-csv", MoodleCsvDestination)
    post_results("results", to="moodle-csv", registry=registry)
"""
from __future__ import annotations

import re

from ..exceptions import DestinationConfigError
from .destinations.base import Destination

_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
# Tables of the config file that are not destinations.
RESERVED = ("retry",)


class Registry:
    """Destination names -> destination classes."""

    def __init__(self):
        self._classes: dict[str, type[Destination]] = {}

    def register(self, name: str, cls: type[Destination]) -> None:
        """Add a destination; a second class for one name is a programming error."""
        if not _NAME.match(name) or name in RESERVED:
            raise ValueError(f"invalid destination name {name!r}")
        if not (isinstance(cls, type) and issubclass(cls, Destination)):
            raise TypeError(f"{cls!r} is not a Destination subclass")
        if name in self._classes:
            raise ValueError(f"destination {name!r} is already registered")
        self._classes[name] = cls

    def get(self, name: str) -> type[Destination]:
        """The class registered as ``name``; an unknown name lists the known ones."""
        try:
            return self._classes[name]
        except KeyError:
            raise DestinationConfigError(
                f"unknown destination {name!r}; known: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        return sorted(self._classes)

    def __contains__(self, name: str) -> bool:
        return name in self._classes


def default_registry() -> Registry:
    """A registry holding the built-in destinations."""
    from .destinations.coursera import CourseraDestination
    from .destinations.gradescope import GradescopeDestination
    from .destinations.lti import LtiDestination
    from .destinations.webhook import WebhookDestination

    registry = Registry()
    # The one table of built-in destinations.
    for name, cls in (("coursera", CourseraDestination),
                      ("webhook", WebhookDestination),
                      ("gradescope", GradescopeDestination),
                      ("lti", LtiDestination)):
        registry.register(name, cls)
    return registry
