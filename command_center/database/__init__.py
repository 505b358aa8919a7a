"""command_center/database."""
