"""RTSP ingest: open cameras with PyAV, decode only what analysis needs, report camera health.

Built in the stream-ingest issue; it publishes typed events and knows nothing of the database or HTTP.
"""
