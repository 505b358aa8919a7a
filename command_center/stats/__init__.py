"""Statistics for the screens: open cases, time to confirm and close, false alarms, alert trend."""
