"""inspection/gps."""
