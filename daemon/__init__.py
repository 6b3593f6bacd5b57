"""zedonk-ordre: keep ORDRE in step with a catalogue in git; import its orders into Zedonk."""

__version__ = "0.1.0"
