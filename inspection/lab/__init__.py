"""Food-testing lab results: append-only, hash-chained per lab."""
