"""Errors the user can act on: each names the problem with the input, not a stack trace."""


class ScarSegError(Exception):
    """Base class: the command line prints the message and exits non-zero."""


class InputError(ScarSegError):
    """The study or a file given by the user cannot be used (wrong type, shape, values, geometry)."""


class NoHeartFoundError(ScarSegError):
    """The models found no left ventricle in the study."""


class ModelError(ScarSegError):
    """A weights file is missing, corrupt (checksum mismatch) or incompatible."""


class CancelledError(ScarSegError):
    """The user cancelled the pipeline."""
