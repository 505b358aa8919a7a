"""command_center/district."""
