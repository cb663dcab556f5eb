"""Options described once: a dataclass field carries its help text and its valid range.

The command line is built from the fields (`add_options`), so the library's defaults
and the command line's are the same numbers, and a value out of range is refused at
parse time with the range in the message; `check_ranges` applies the same ranges to a
config made in Python.
"""

import argparse
import math
from dataclasses import dataclass, field, fields


@dataclass(frozen=True)
class Range:
    """The valid values of a numeric option: an int or a finite float between optional bounds."""

    kind: type  # int or float
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: low itself is excluded
    high_open: bool = False

    def describe(self):
        noun = "an integer" if self.kind is int else "a finite number"
        low, high = (None if v is None else str(v) if self.kind is int else f"{v:g}" for v in (self.low, self.high))
        if low is not None and high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"{noun} in {left}{low}, {high}{right}"
        if low is not None:
            return f"{noun} {'>' if self.low_open else '>='} {low}"
        if high is not None:
            return f"{noun} {'<' if self.high_open else '<='} {high}"
        return noun

    def contains(self, value):
        if isinstance(value, bool) or not isinstance(value, int if self.kind is int else (int, float)):
            return False
        if self.kind is float and not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return self.high is None or not (value > self.high or (self.high_open and value == self.high))

    def parse(self, text):
        """An argparse `type`: the value, or an error that states the valid range."""
        try:
            value = self.kind(text)
        except ValueError:
            value = None
        if value is None or not self.contains(value):
            raise argparse.ArgumentTypeError(f"must be {self.describe()}, got {text!r}")
        return value


def option(default, help, valid=None, flag=None, choices=None):
    """A dataclass field that is also a command-line option (flag: default --field-name).

    valid: the Range of a numeric option; choices: the allowed values of a word option.
    """
    return field(default=default, metadata={"help": help, "range": valid, "flag": flag, "choices": choices})


def check_ranges(config):
    """Raise ValueError naming the first field of a config whose value is outside its range."""
    for f in fields(config):
        valid, value = f.metadata.get("range"), getattr(config, f.name)
        if valid is not None and not valid.contains(value):
            raise ValueError(f"{type(config).__name__}.{f.name} must be {valid.describe()}, got {value!r}")
        choices = f.metadata.get("choices")
        if choices is not None and value not in choices:
            raise ValueError(f"{type(config).__name__}.{f.name} must be one of {', '.join(choices)}, got {value!r}")


def add_options(parser, config_class, described=None):
    """Add one option per described field of config_class; return {field name: flag}.

    A field is described by its own metadata (see `option`) or by `described`
    ({name: (help, Range)}, for a config class whose fields carry no metadata).
    The options default to None, so `given` can tell what was typed from what was not;
    the help text shows the dataclass default, which `fill_defaults` puts in afterwards.
    """
    flags = {}
    for f in fields(config_class):
        help_text, valid, flag = f.metadata.get("help"), f.metadata.get("range"), f.metadata.get("flag")
        if described and f.name in described:
            help_text, valid = described[f.name]
        if help_text is None:
            continue
        flag = flag or "--" + f.name.replace("_", "-")
        bounds = f"; {valid.describe()}" if valid else ""
        choices = f.metadata.get("choices")
        if choices:
            metavar = "{" + ",".join(choices) + "}"
        else:
            metavar = (valid.kind.__name__ if valid else flag.lstrip("-").replace("-", "_")).upper()
        parser.add_argument(
            flag,
            dest=f.name,
            type=valid.parse if valid else type(f.default),
            choices=choices,
            default=None,
            metavar=metavar,
            help=f"{help_text} (default: {f.default}{bounds})",
        )
        flags[f.name] = flag
    return flags


def given(args, flags):
    """{field name: value} of the options the user typed."""
    return {name: getattr(args, name) for name in flags if getattr(args, name) is not None}


def fill_defaults(args, config_class, flags):
    """Put the dataclass default into every option the user did not type."""
    defaults = {f.name: f.default for f in fields(config_class)}
    for name in flags:
        if getattr(args, name) is None:
            setattr(args, name, defaults[name])
