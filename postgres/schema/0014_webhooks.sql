-- Issue 26: webhooks (core/webhookstore.go). Endpoints the operator
-- registered, and each event's delivery to each endpoint: its state and
-- last try, for the console; the retries themselves are the delivery's
-- outbox entry (outbox_id, 0 once it is gone).
CREATE TABLE webhook_endpoints (
	id            text COLLATE "C" PRIMARY KEY,
	url           text NOT NULL,
	secret        text NOT NULL,
	events        text NOT NULL DEFAULT '', -- space-separated; '' is every type
	created_at    timestamptz NOT NULL,
	failing_since timestamptz,
	disabled_at   timestamptz
);

CREATE TABLE webhook_deliveries (
	endpoint_id text COLLATE "C" NOT NULL,
	message_id  text COLLATE "C" NOT NULL,
	type        text NOT NULL,
	body        text NOT NULL,
	state       text NOT NULL,
	attempts    integer NOT NULL DEFAULT 0,
	last_status text NOT NULL DEFAULT '',
	created_at  timestamptz NOT NULL,
	updated_at  timestamptz NOT NULL,
	outbox_id   bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (endpoint_id, message_id)
);
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries (endpoint_id, created_at);
CREATE INDEX webhook_deliveries_updated ON webhook_deliveries (updated_at);
