-- Issue 26: webhooks (core/webhookstore.go). Endpoints the operator
-- registered, and each event's delivery to each endpoint: its state and
-- last try, for the console; the retries themselves are the delivery's
-- outbox entry (outbox_id, 0 once it is gone).
CREATE TABLE webhook_endpoints (
	id            TEXT PRIMARY KEY,
	url           TEXT NOT NULL,
	secret        TEXT NOT NULL,
	events        TEXT NOT NULL DEFAULT '', -- space-separated; '' is every type
	created_at    INTEGER NOT NULL,         -- unix microseconds
	failing_since INTEGER NOT NULL DEFAULT 0,
	disabled_at   INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE webhook_deliveries (
	endpoint_id TEXT NOT NULL,
	message_id  TEXT NOT NULL,
	type        TEXT NOT NULL,
	body        TEXT NOT NULL,
	state       TEXT NOT NULL,
	attempts    INTEGER NOT NULL DEFAULT 0,
	last_status TEXT NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	outbox_id   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (endpoint_id, message_id)
);
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries (endpoint_id, created_at);
CREATE INDEX webhook_deliveries_updated ON webhook_deliveries (updated_at);
