-- More rules each establishment chooses, applied by policy.
-- rate_per_sender: messages per rate period one of its senders may send (NULL: the operator's default).
-- malformed_xdm: a message whose IHE XDM archive is malformed (zip bomb, two patients, no METADATA.XML…)
-- is only flagged in the audit trail (default) or refused at the end of DATA (554 5.6.0).
ALTER TABLE tenants
    ADD COLUMN rate_per_sender integer CHECK (rate_per_sender >= 0),
    ADD COLUMN malformed_xdm text NOT NULL DEFAULT 'flag' CHECK (malformed_xdm IN ('flag', 'refuse'));

-- What each hosted mailbox holds (owned by storage), kept by trigger in the same transaction as
-- the stored message, so that the quota check at RCPT time reads one row.
CREATE TABLE mailbox_usage (
    mailbox     text PRIMARY KEY REFERENCES mailboxes (address),
    used_bytes  bigint NOT NULL DEFAULT 0 CHECK (used_bytes >= 0),
    messages    bigint NOT NULL DEFAULT 0 CHECK (messages >= 0)
);
INSERT INTO mailbox_usage (mailbox, used_bytes, messages)
    SELECT mailbox, sum(size), count(*) FROM stored_messages GROUP BY mailbox;

CREATE FUNCTION mailbox_usage_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO mailbox_usage AS u (mailbox, used_bytes, messages) VALUES (NEW.mailbox, NEW.size, 1)
            ON CONFLICT (mailbox) DO UPDATE SET used_bytes = u.used_bytes + NEW.size, messages = u.messages + 1;
        RETURN NEW;
    END IF;
    UPDATE mailbox_usage SET used_bytes = used_bytes - OLD.size, messages = messages - 1
        WHERE mailbox = OLD.mailbox;
    RETURN OLD;
END $$;
CREATE TRIGGER stored_messages_usage AFTER INSERT OR DELETE ON stored_messages
    FOR EACH ROW EXECUTE FUNCTION mailbox_usage_follow();

-- The rule and the policy version behind each verdict, for "why was this refused?".
ALTER TABLE audit_events
    ADD COLUMN rule text NOT NULL DEFAULT '',
    ADD COLUMN policy_version text NOT NULL DEFAULT '';
