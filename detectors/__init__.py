"""Hygiene-violation detectors (ONNX Runtime / ultralytics plugins) and temporal confirmation rules.

Built in the detector issue; it consumes frames and publishes typed events only.
"""
