"""Configuration errors: one clear line per problem, with file, line and key path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from watchkeeper.domain import WatchkeeperError


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem in a configuration file.

    Attributes:
        file: The file as the user named it.
        line: 1-based line number, or None when the problem concerns the whole file.
        path: Key path such as ``cameras[1].inputs[0].roles[0]``, or empty for the file itself.
        message: What was expected (and what was found), never containing a password.
    """

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(WatchkeeperError):
    """The configuration file is missing, unreadable or invalid; ``str()`` is one line per problem."""

    code = "config_invalid"

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        """Build the error from its problems.

        Args:
            problems: At least one problem, in the order to show them.
        """
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))
