"""Strategy layer: the CustomStrategy and its entry/exit mixins (see registry)."""
