"""Exception types. The CLI maps `InputError` to exit code 2 and anything else to 1."""


class DualsymError(Exception):
    """Base class of every error raised on purpose by dualsym."""


class InputError(DualsymError, ValueError):
    """Invalid or inconsistent user input: a config, a request, or a file to read."""


class MemoryBudgetError(InputError):
    """A requested tensor or batch does not fit in the configured memory budget."""


class NonFiniteOutputError(InputError):
    """A network produced inf or NaN, usually an overflow of the activation."""


class ResultFileError(InputError):
    """A result or checkpoint file is missing, unreadable or not a dualsym file."""
