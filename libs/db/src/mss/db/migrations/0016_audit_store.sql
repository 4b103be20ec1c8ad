-- The audit store (owned by tracing) for audit requests:
--   * audit_events is partitioned by month of `at`, so that old months are cheap to read past and
--     to drop once every establishment's retention has passed;
--   * one row per message (audit_messages, with the establishments it concerns) and per recipient
--     (audit_recipients), kept up to date at ingestion, make searches index lookups;
--   * accounts of the audit UI and API, their sessions and a log of every search, view and export;
--   * retention (metadata and content) and legal hold per establishment;
--   * row-level security: the API reads as mss_audit_reader, which sees only the messages of the
--     establishments named in the transaction's `mss.tenants` setting.

ALTER TABLE audit_events RENAME TO audit_events_unpartitioned;
ALTER SEQUENCE audit_events_seq_seq OWNED BY NONE;
DROP TRIGGER audit_events_append_only ON audit_events_unpartitioned;
ALTER INDEX audit_events_by_message RENAME TO audit_events_unpartitioned_by_message;
ALTER INDEX audit_events_by_patient RENAME TO audit_events_unpartitioned_by_patient;
ALTER INDEX audit_events_by_header_message_id RENAME TO audit_events_unpartitioned_by_header;
ALTER INDEX audit_events_by_original_message_id RENAME TO audit_events_unpartitioned_by_original;
ALTER INDEX audit_events_by_chain RENAME TO audit_events_unpartitioned_by_chain;

CREATE TABLE audit_events (
    seq                 bigint NOT NULL DEFAULT nextval('audit_events_seq_seq'),
    event_id            text NOT NULL,
    message_id          text NOT NULL,
    code                integer NOT NULL,
    service             text NOT NULL,
    at                  timestamptz NOT NULL,
    tenant_id           text NOT NULL DEFAULT '',
    recipient           text NOT NULL DEFAULT '',
    status              integer NOT NULL DEFAULT 0,
    reply               text NOT NULL DEFAULT '',
    reason              text NOT NULL DEFAULT '',
    trust_list_version  text NOT NULL DEFAULT '',
    directory_version   text NOT NULL DEFAULT '',
    trace_id            text NOT NULL DEFAULT '',
    attempt             integer NOT NULL DEFAULT 0,
    mail_from           text NOT NULL DEFAULT '',
    next_hop            text NOT NULL DEFAULT '',
    patient_hash        text NOT NULL DEFAULT '',
    rule                text NOT NULL DEFAULT '',
    policy_version      text NOT NULL DEFAULT '',
    header_message_id   text NOT NULL DEFAULT '',
    original_message_id text NOT NULL DEFAULT '',
    tls                 text NOT NULL DEFAULT '',
    chain_seq           bigint,
    prev_hash           text,
    hash                text,
    PRIMARY KEY (event_id, at)
) PARTITION BY RANGE (at);
ALTER SEQUENCE audit_events_seq_seq OWNED BY audit_events.seq;

-- The partition of the month of `at`, made when first needed (tracing calls it before a batch).
-- Replicas may ask for the same month at once: the lock makes the second wait and find it made.
CREATE FUNCTION audit_events_partition(at timestamptz) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    month date := date_trunc('month', at AT TIME ZONE 'UTC')::date;
    name text := 'audit_events_' || to_char(month, 'YYYY_MM');
BEGIN
    IF to_regclass(name) IS NULL THEN
        PERFORM pg_advisory_xact_lock(hashtext('audit_events_partition'), hashtext(name));
        EXECUTE format(
            'CREATE TABLE IF NOT EXISTS %I PARTITION OF audit_events FOR VALUES FROM (%L) TO (%L)',
            name, month::timestamp AT TIME ZONE 'UTC', (month + interval '1 month')::timestamp AT TIME ZONE 'UTC');
    END IF;
    RETURN name;
END $$;

SELECT audit_events_partition(month)
    FROM (SELECT DISTINCT date_trunc('month', at) AS month FROM audit_events_unpartitioned) AS months;
INSERT INTO audit_events SELECT seq, event_id, message_id, code, service, at, tenant_id, recipient, status,
    reply, reason, trust_list_version, directory_version, trace_id, attempt, mail_from, next_hop,
    patient_hash, rule, policy_version, header_message_id, original_message_id, '', chain_seq, prev_hash,
    hash FROM audit_events_unpartitioned;
DROP TABLE audit_events_unpartitioned;

CREATE INDEX audit_events_by_message ON audit_events (message_id, at, seq);
CREATE INDEX audit_events_by_event ON audit_events (event_id);
CREATE INDEX audit_events_by_chain ON audit_events (tenant_id, chain_seq);
CREATE INDEX audit_events_by_patient ON audit_events (patient_hash, at) WHERE patient_hash <> '';
CREATE INDEX audit_events_by_header_message_id ON audit_events (header_message_id)
    WHERE header_message_id <> '';
CREATE INDEX audit_events_by_original_message_id ON audit_events (original_message_id)
    WHERE original_message_id <> '';

-- `tls`: the TLS evidence of the hop (JSON of mss.v1.PeerCertificate), hashed in the chain when set.

-- Append-only, but for the retention purge (mss.tracing.retention), which sets mss.audit_purge for
-- its own transaction and records where each chain now starts.
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('mss.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only';
END $$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

-- Where each chain starts after a purge: the number and hash of the last event purged.
ALTER TABLE audit_chain
    ADD COLUMN purged_seq bigint NOT NULL DEFAULT 0,
    ADD COLUMN purged_hash text NOT NULL DEFAULT repeat('0', 64);

-- Message-level facts, whichever event brought them, and the establishments it concerns: the
-- sender's (by the domain of the envelope sender) and each recipient's.
CREATE TABLE audit_messages (
    message_id        text PRIMARY KEY,
    first_at          timestamptz NOT NULL,
    last_at           timestamptz NOT NULL,
    mail_from         text NOT NULL DEFAULT '',
    sender_tenant     text NOT NULL DEFAULT '',
    tenants           text[] NOT NULL DEFAULT '{}',
    patient_hash      text NOT NULL DEFAULT '',
    header_message_id text NOT NULL DEFAULT ''
);
CREATE INDEX audit_messages_by_date ON audit_messages (first_at DESC, message_id DESC);
CREATE INDEX audit_messages_by_sender ON audit_messages (mail_from, first_at);
CREATE INDEX audit_messages_by_patient ON audit_messages (patient_hash, first_at) WHERE patient_hash <> '';
CREATE INDEX audit_messages_by_header_message_id ON audit_messages (header_message_id)
    WHERE header_message_id <> '';

-- Each recipient's latest status; `tenants` copies its message's, for row-level security.
CREATE TABLE audit_recipients (
    message_id  text NOT NULL,
    recipient   text NOT NULL,
    tenant_id   text NOT NULL DEFAULT '',
    tenants     text[] NOT NULL DEFAULT '{}',
    status      integer NOT NULL,
    at          timestamptz NOT NULL,
    attempts    integer NOT NULL DEFAULT 0,
    reply       text NOT NULL DEFAULT '',
    PRIMARY KEY (message_id, recipient)
);
CREATE INDEX audit_recipients_by_recipient ON audit_recipients (recipient, at);
CREATE INDEX audit_recipients_by_status ON audit_recipients (status, at);

-- Accounts of the audit UI and API. ght_admin: every establishment of its GHT; auditor (DPO): its
-- establishment; support: its GHT's or establishment's metadata, never content. `issuer`/`subject`
-- bind an account to an OpenID Connect identity; `password_hash` is scrypt (mss.core.passwords).
CREATE TABLE audit_accounts (
    login          text PRIMARY KEY CHECK (login = lower(login) AND login ~ '^[a-z0-9._@-]{1,128}$'),
    role           text NOT NULL CHECK (role IN ('ght_admin', 'auditor', 'support')),
    ght_id         text NOT NULL REFERENCES ght (id),
    tenant_id      text REFERENCES tenants (id),
    display_name   text NOT NULL DEFAULT '',
    password_hash  text,
    issuer         text,
    subject        text,
    disabled       boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (role <> 'auditor' OR tenant_id IS NOT NULL),
    CHECK (role <> 'ght_admin' OR tenant_id IS NULL),
    UNIQUE (issuer, subject)
);

-- Sessions: only the SHA-256 of each token is kept.
CREATE TABLE audit_sessions (
    token_hash  text PRIMARY KEY,
    login       text NOT NULL REFERENCES audit_accounts (login),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);

-- Who signed in, searched, viewed or exported what (append-only, shown to GHT administrators).
CREATE TABLE audit_access_log (
    seq        bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    login      text NOT NULL,
    role       text NOT NULL DEFAULT '',
    ght_id     text NOT NULL DEFAULT '',
    action     text NOT NULL,
    target     text NOT NULL DEFAULT '',
    outcome    text NOT NULL DEFAULT 'ok',
    peer       text NOT NULL DEFAULT ''
);
CREATE INDEX audit_access_log_by_ght ON audit_access_log (ght_id, at DESC);
CREATE FUNCTION audit_access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_access_log is append-only';
END $$;
CREATE TRIGGER audit_access_log_append_only BEFORE UPDATE OR DELETE ON audit_access_log
    FOR EACH ROW EXECUTE FUNCTION audit_access_log_append_only();

-- Retention per establishment: audit metadata (months) and hosted message content (days; NULL:
-- kept until deleted by its owner). A legal hold suspends both.
ALTER TABLE tenants
    ADD COLUMN audit_retention_months integer NOT NULL DEFAULT 120 CHECK (audit_retention_months >= 1),
    ADD COLUMN content_retention_days integer CHECK (content_retention_days >= 1),
    ADD COLUMN legal_hold boolean NOT NULL DEFAULT false,
    ADD COLUMN legal_hold_reason text NOT NULL DEFAULT '';

-- Row-level security for the API's reads.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mss_audit_reader') THEN
        CREATE ROLE mss_audit_reader NOLOGIN;
    END IF;
END $$;
GRANT mss_audit_reader TO CURRENT_USER;
GRANT SELECT ON audit_events, audit_messages, audit_recipients TO mss_audit_reader;

-- (The policies read the setting through a scalar subquery, evaluated once per query.)
CREATE FUNCTION audit_reader_tenants() RETURNS text[] LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('mss.tenants', true), ''), '{}')::text[]
$$;
ALTER TABLE audit_messages ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_messages_read ON audit_messages FOR SELECT TO mss_audit_reader
    USING (tenants && (SELECT audit_reader_tenants()));
-- An event is visible with its message; a disposition notification with the message it is about.
-- PL/pgSQL, so that the check stays an index lookup per row rather than being planned as a scan of
-- every message (timelines read a few dozen events).
CREATE FUNCTION audit_message_visible(id text) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN EXISTS (
        SELECT 1 FROM audit_messages m WHERE m.message_id = id AND m.tenants && audit_reader_tenants());
END $$;
CREATE FUNCTION audit_notification_visible(original text) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN original <> '' AND EXISTS (
        SELECT 1 FROM audit_messages m
        WHERE m.header_message_id = original AND m.tenants && audit_reader_tenants());
END $$;
ALTER TABLE audit_recipients ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_recipients_read ON audit_recipients FOR SELECT TO mss_audit_reader
    USING (tenants && (SELECT audit_reader_tenants()));
ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_events_read ON audit_events FOR SELECT TO mss_audit_reader
    USING (audit_message_visible(message_id) OR audit_notification_visible(original_message_id));
