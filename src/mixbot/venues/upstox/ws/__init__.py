"""Market data of the Upstox venue: the websocket, its protobuf protocol and the Backtrader feed."""
