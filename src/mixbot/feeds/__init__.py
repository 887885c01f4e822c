"""Market-data feeds: bar file loaders and their data-quality reports."""
