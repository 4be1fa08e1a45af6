"""YAML with YAML 1.2 floats: `1e-3` is a number (PyYAML's 1.1 rules read it as a string).
Aliases (`*name`) are refused: a few lines of nested ones expand to billions of nodes."""

from __future__ import annotations

import re
from typing import Any

import yaml


class Loader(yaml.SafeLoader):
    pass


Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                  |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                  |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                  |[-+]?\.(?:inf|Inf|INF)
                  |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."),
)


class AliasRefused(yaml.YAMLError):
    def __init__(self, line: int) -> None:
        self.line = line
        super().__init__("YAML aliases (*name) are not allowed here; write the values out")


def refuse_aliases(text: str) -> None:
    """AliasRefused at the first alias, read from the event stream (nothing is expanded)."""
    for event in yaml.parse(text, Loader=Loader):
        if isinstance(event, yaml.AliasEvent):
            raise AliasRefused(event.start_mark.line + 1)


def load(text: str) -> Any:
    refuse_aliases(text)
    return yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader subclass


def compose(text: str) -> Any:
    refuse_aliases(text)
    return yaml.compose(text, Loader=Loader)
