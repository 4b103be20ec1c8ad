-- Disposition notifications (RFC 8098 MDN) are linked to the message they are about through its
-- Message-ID header: the acceptance event records it, the notification event refers to it.
ALTER TABLE audit_events
    ADD COLUMN header_message_id text NOT NULL DEFAULT '',
    ADD COLUMN original_message_id text NOT NULL DEFAULT '';
CREATE INDEX audit_events_by_header_message_id ON audit_events (header_message_id) WHERE header_message_id <> '';
CREATE INDEX audit_events_by_original_message_id ON audit_events (original_message_id)
    WHERE original_message_id <> '';
