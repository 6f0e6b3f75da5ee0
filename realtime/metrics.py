from prometheus_client import Counter, Gauge

WS_CLIENTS = Gauge("maestro_websocket_clients", "Connected, authenticated WebSocket clients in this process",
                   multiprocess_mode="livesum")
WS_DELIVERED = Counter("maestro_websocket_events_delivered_total", "Events sent to WebSocket clients")
WS_GAP_FILLED = Counter("maestro_websocket_gap_filled_total",
                        "Events a consumer read from the event log because their broadcast was late or lost")
WS_RESYNCS = Counter("maestro_websocket_resync_required_total",
                     "resync_required answers (a client asked for events already pruned)")
BROADCAST_FAILURES = Counter("maestro_realtime_broadcast_failures_total",
                             "Commits whose events could not be handed to the channel layer")
WS_ACCESS_REVOKED = Counter("maestro_websocket_access_revoked_total",
                            "Open connections closed because their credential no longer grants access")
WS_LAYER_REFUSED = Counter("maestro_websocket_layer_unavailable_total",
                           "Handshakes closed with 1013 because the channel layer could not reach Redis")
WS_DROPPED = Counter("maestro_websocket_messages_dropped_total",
                     "Messages a consumer's inbox dropped because it fell behind (its events are read again "
                     "from the event log)")
