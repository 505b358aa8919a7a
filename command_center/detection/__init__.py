"""What the detectors can and cannot be trusted with: per violation type, its sources and whether they
were validated on real data (``GET /api/detectors``)."""
