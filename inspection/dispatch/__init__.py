"""Dispatch: propose the nearest available inspectors for a case that needs a field visit."""
