"""Training, export and evaluation of the detectors (``mscc train`` / ``export`` / ``eval``)."""
