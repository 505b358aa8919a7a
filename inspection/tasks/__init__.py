"""Field tasks: a supervisor pushes a visit to an inspector, who accepts, arrives, records findings with
photos and submits; the case the task serves moves on."""
