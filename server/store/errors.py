"""The store's one exception family: a data set that cannot be loaded, and why."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One finding about a data set folder: the file, the key, what is wrong and the fix."""

    file: str
    key: str
    problem: str
    fix: str = ""

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.key) if part)
        text = f"{where}: {self.problem}" if where else self.problem
        return text + (f"; {self.fix}" if self.fix else "")


class DatasetError(ValueError):
    """A data set folder cannot be served. ``problems`` lists every error found."""

    def __init__(self, problems: list[Problem] | Problem | str) -> None:
        if isinstance(problems, str):
            problems = [Problem("", "", problems)]
        if isinstance(problems, Problem):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class Problems:
    """Collects errors and warnings while a folder is read, so `check` can list them all."""

    def __init__(self, file: Path | str) -> None:
        self.file = str(file)
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []

    def error(self, key: str, problem: str, fix: str = "") -> None:
        self.errors.append(Problem(self.file, key, problem, fix))

    def warn(self, key: str, problem: str, fix: str = "") -> None:
        self.warnings.append(Problem(self.file, key, problem, fix))

    def raise_if_any(self) -> None:
        if self.errors:
            raise DatasetError(self.errors)
