"""command_center/live."""
