"""Process settings and the typed district configuration, validated once at start-up."""
