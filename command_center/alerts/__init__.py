"""Alerts: detections, camera-health findings, lab failures and reports, each stored once per event."""
