"""The one error hierarchy of the host tools; `cli.main` prints it as `dowel: message`.

Raise these for anything the user or the device said no to (bad input, no board, a failed
verify): the message must name the fix. A bug stays a plain exception with its traceback.
"""


class DowelError(Exception):
    """The user or the device said no; the message says what to do."""

    exit_status = 1


class UsageError(DowelError):
    """Bad input on the command line or in an input file."""

    exit_status = 2


class DeviceError(DowelError):
    """The board is missing, busy, running other firmware, or answered something unexpected."""
