"""Events out to other systems: MQTT and signed webhooks, never losing an event to a dead target."""
