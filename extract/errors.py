"""The extractor's exception, in a module without torch so the CLI can import it cheaply."""


class ExtractError(ValueError):
    """Bad input to the extractor; the message names the value and the fix."""
