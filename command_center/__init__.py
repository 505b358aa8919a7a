"""command_center."""
