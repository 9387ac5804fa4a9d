"""Error types shown to users: each message says what is wrong and what to do."""


class SstsalError(Exception):
    """Base class for errors the CLI reports as one clear line and a non-zero exit."""


class InputError(SstsalError):
    """Input files (frames, flow images, videos) are missing, malformed or inconsistent."""


class CheckpointError(SstsalError):
    """A checkpoint is missing, unsafe, corrupt or of an unexpected architecture."""


class ConfigError(SstsalError):
    """A workflow setting is unknown or has a value the schema does not allow."""
