"""Exception types of matter-factory-data.

The core raises these and never prints or exits; the front ends (``cli.py``,
``west_cmd.py``) turn them into one line on stderr and an exit code.
Every leaf also subclasses the matching built-in so callers may catch either.
"""


class FactoryDataError(Exception):
    """Base class: the message is a complete sentence a user can act on."""

    exit_code = 1


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


class Interrupted(FactoryDataError):
    """The user stopped a long job (Ctrl-C); what was finished is kept."""

    exit_code = 130


class VerificationError(FactoryDataError):
    """`verify` found a mismatch between an image and its credentials."""


class MissingProgram(FactoryDataError, FileNotFoundError):
    """An external program (nrfjprog, nrfutil, STM32_Programmer_CLI) is not on PATH."""


class CommandFailed(FactoryDataError):
    """An external program exited with a non-zero status ("command exited with status N: ...")."""

    def __init__(self, argv, returncode: int, hint: str = "") -> None:
        import shlex

        self.argv = list(argv)
        self.returncode = returncode
        message = f"command exited with status {returncode}: {shlex.join(self.argv)}"
        super().__init__(f"{message} ({hint})" if hint else message)
