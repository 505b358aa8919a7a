"""Inspectors and test vehicles: who carries which GPS device."""
