"""Recordings: the index of camera segments, evidence clips around alerts, retention and playback."""
