from prometheus_client import Counter, Gauge

WS_CLIENTS = Gauge("maestro_websocket_clients", "Connected WebSocket clients in this process")
WS_DELIVERED = Counter("maestro_websocket_events_delivered_total", "Events sent to WebSocket clients")
