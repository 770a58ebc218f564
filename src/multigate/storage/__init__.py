"""Where files live, how they are written atomically, and their provenance sidecars."""
