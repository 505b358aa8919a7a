"""Restaurant risk score: which restaurants to inspect first."""
