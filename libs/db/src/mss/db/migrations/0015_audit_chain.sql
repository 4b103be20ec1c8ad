-- The audit trail is append-only and hash-chained per establishment (owned by tracing): each event
-- gets the next number of its establishment's chain and the SHA-256 of the previous event's hash
-- with its own canonical content, so that `mss audit verify` finds any changed, removed or
-- inserted event. Events without an establishment form the chain ''.
CREATE TABLE audit_chain (
    tenant_id   text PRIMARY KEY,
    seq         bigint NOT NULL,
    hash        text NOT NULL
);
ALTER TABLE audit_events
    ADD COLUMN chain_seq bigint,
    ADD COLUMN prev_hash text,
    ADD COLUMN hash text;
CREATE UNIQUE INDEX audit_events_by_chain ON audit_events (tenant_id, chain_seq);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END $$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
