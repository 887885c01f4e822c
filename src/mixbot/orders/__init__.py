"""Orders: the order/position state machine of a bot (:mod:`mixbot.orders.manager`) and the
price-tick rounding every venue and the paper broker share (:mod:`mixbot.orders.ticks`)."""
