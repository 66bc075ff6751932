"""Errors that reach the user as one readable line."""


class CrisiswatchError(Exception):
    """Base class: the CLI prints `crisiswatch: <message>` and exits 1."""


class ConfigError(CrisiswatchError):
    """A configuration file is missing, unreadable or invalid."""

    def __init__(self, path: str, key: str, problem: str) -> None:
        self.path, self.key, self.problem = path, key, problem
        where = f"{path}: {key}" if key else path
        super().__init__(f"bad config {where}: {problem}")
