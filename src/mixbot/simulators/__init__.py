"""Local simulators of venues, for tests and demos: never on a bot's runtime path."""
