"""command_center/auth."""
