"""Activities of the case workflow: one business action each, registered as blueprints."""
