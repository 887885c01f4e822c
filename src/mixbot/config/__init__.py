"""Bot configuration: the JSON Schema (single source of truth), loading, validation, typed config.

Public entry points: :func:`mixbot.config.validate.validate_file` (all problems at once)
and :func:`mixbot.config.load.load_config` (a validated :class:`BotConfig` or a ConfigError).
"""
