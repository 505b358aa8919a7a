"""command_center/cameras."""
