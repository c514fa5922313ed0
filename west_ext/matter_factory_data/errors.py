"""Exception types of matter-factory-data, and messages that name their subject.

The core raises these and never prints or exits; the front ends (``cli/``) turn them into
one line on stderr and an exit code. Every leaf also subclasses the matching built-in so
callers may catch either.

A message about an input names it through a :class:`Subject` (the parameter's name, such
as ``vendor_id``) instead of spelling it: each front end renders the subject in its own
vocabulary -- ``--vendor_id`` on the command line, ``CONFIG_CHIP_DEVICE_VENDOR_ID=70000``
in a build, ``vendor_id`` in a JSON file -- with :meth:`Message.render`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Callable, Union


def option_name(name: str) -> str:
    """The command-line vocabulary: ``vendor_id`` -> ``--vendor_id``."""
    return f"--{name}"


Namer = Callable[[str], str]


class Subject:
    """An input named by its parameter name; ``str()`` gives the command-line spelling, so a
    subject can stand wherever a plain ``where`` text is expected."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return option_name(self.name)

    def __repr__(self) -> str:
        return f"Subject({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Subject) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)


Where = Union[str, Subject]


class _Options:
    """How the layers below the front ends name a command-line option: ``OPT.vendor_id`` is
    ``Subject("vendor_id")``; ``OPT["pm-static"]`` an option spelt with dashes. Nothing below
    ``cli/`` spells an option itself (``tests/test_architecture.py``); in text the subject
    renders in the command line's vocabulary (:func:`option_name`), in a :class:`Message` in
    the vocabulary of the front end that reports it."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Subject:
        if name.startswith("__"):
            raise AttributeError(name)
        return Subject(name)

    def __getitem__(self, name: str) -> Subject:
        return Subject(name)


OPT = _Options()


class Message:
    """A sentence about zero or more subjects: ``template`` has ``{0}``, ``{1}``, ... for the
    subjects' names (and is used verbatim when there is no subject)."""

    __slots__ = ("template", "subjects")

    def __init__(self, template: str, subjects: Sequence[str] = ()) -> None:
        self.template = template
        self.subjects = tuple(subjects)

    @classmethod
    def at(cls, where: Where, detail: str) -> Message:
        """``<where>: <detail>``; a :class:`Subject` stays a subject, a text stays text."""
        if isinstance(where, Subject):
            return cls("{0}: " + _escape(detail), (where.name,))
        return cls(f"{where}: {detail}")

    def render(self, name: Namer = option_name) -> str:
        if not self.subjects:
            return self.template
        return self.template.format(*(name(s) for s in self.subjects))

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"Message({self.template!r}, {self.subjects!r})"


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


class FactoryDataError(Exception):
    """Base class: the message is a complete sentence a user can act on. Give it a text or
    a :class:`Message`; :attr:`subjects` names the inputs it is about."""

    exit_code = 1

    def __init__(self, message: str | Message = "", *args: object) -> None:
        self.message = message if isinstance(message, Message) else Message(str(message))
        super().__init__(self.message.render(), *args)

    @property
    def subjects(self) -> tuple:
        return self.message.subjects

    @classmethod
    def at(cls, where: Where, detail: str) -> FactoryDataError:
        """The error ``<where>: <detail>`` (see :meth:`Message.at`)."""
        return cls(Message.at(where, detail))

    @classmethod
    def naming(cls, template: str, *subjects: str) -> FactoryDataError:
        """An error about several inputs: ``template`` with ``{0}``, ``{1}``, ..."""
        return cls(Message(template, subjects))

    #: The vocabulary chosen by the context that knows where the inputs came from (the build
    #: step names Kconfig symbols); None: the command line's.
    vocabulary: Namer | None = None

    def render(self, name: Namer | None = None) -> str:
        """The message in a vocabulary: ``name``, else the one attached, else the CLI's."""
        attached: Namer | None = self.__dict__.get("vocabulary")  # (not a method)
        return self.message.render(name or attached or option_name)

    def __str__(self) -> str:
        return self.render()

    def in_vocabulary(self, name: Namer) -> FactoryDataError:
        """Attach the vocabulary the inputs were given in; returns self (for ``raise``)."""
        self.vocabulary = name
        return self


class InputError(FactoryDataError, ValueError):
    """A value given by the user (option, JSON key, file content) is not acceptable."""

    exit_code = 2


class CredentialError(InputError):
    """A certificate or key is unreadable, malformed or inconsistent with the rest."""


class OnboardingError(InputError):
    """A setup payload or manual pairing code cannot be built or decoded."""


class PartitionError(FactoryDataError, ValueError):
    """The image does not fit, or the flash layout is unsound."""


class OutputError(FactoryDataError, OSError):
    """An output cannot be written (exists without --overwrite, unwritable directory, ...)."""


class OutputRefused(OutputError):
    """An output cannot be written *as asked*: it exists (no --overwrite), is a directory, two
    outputs name one file, its parent is a file, a batch directory holds something else.
    Usage, not a failure: exit 2 like bad input (nothing was written)."""

    exit_code = 2


class Interrupted(FactoryDataError):
    """The user stopped a long job (Ctrl-C); what was finished is kept."""

    exit_code = 130


class VerificationError(FactoryDataError):
    """`verify` found a mismatch between an image and its credentials."""


class MissingProgram(FactoryDataError, FileNotFoundError):
    """An external program (nrfjprog, nrfutil, STM32_Programmer_CLI) is not on PATH: the
    station is not set up, nothing was attempted (exit 2, as for bad input or usage)."""

    exit_code = 2


class CommandFailed(FactoryDataError):
    """An external program exited with a non-zero status ("command exited with status N: ...")."""

    def __init__(self, argv, returncode: int, hint: str = "") -> None:
        import shlex

        self.argv = list(argv)
        self.returncode = returncode
        message = f"command exited with status {returncode}: {shlex.join(self.argv)}"
        super().__init__(f"{message} ({hint})" if hint else message)
