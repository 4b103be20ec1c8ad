-- Tenants of a GHT, their domains and mailboxes (owned by directory).
CREATE TABLE ght (
    id          text PRIMARY KEY,
    name        text NOT NULL
);

CREATE TABLE tenants (
    id          text PRIMARY KEY,
    ght_id      text NOT NULL REFERENCES ght (id),
    name        text NOT NULL,
    finess      text CHECK (finess ~ '^[0-9A-B]{9}$')
);

CREATE TABLE domains (
    name        text PRIMARY KEY CHECK (name = lower(name)),
    tenant_id   text NOT NULL REFERENCES tenants (id),
    mode        text NOT NULL CHECK (mode IN ('saas', 'proxy')),
    smarthost   text,
    CHECK (mode = 'saas' OR smarthost IS NOT NULL)
);

CREATE TABLE mailboxes (
    address           text PRIMARY KEY CHECK (address = lower(address)),
    tenant_id         text NOT NULL REFERENCES tenants (id),
    domain            text NOT NULL REFERENCES domains (name),
    type              text NOT NULL CHECK (type IN ('PER', 'ORG', 'APP', 'CAB')),
    status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'deleted')),
    display_name      text,
    quota_bytes       bigint,
    max_message_bytes bigint,
    created_at        timestamptz NOT NULL DEFAULT now()
);

-- One row, bumped whenever directory data changes; recorded by every verdict.
CREATE TABLE directory_meta (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version     bigint NOT NULL
);
INSERT INTO directory_meta (version) VALUES (0);

-- Messages of hosted (SaaS) mailboxes (owned by storage). The key makes delivery idempotent.
CREATE TABLE stored_messages (
    mailbox     text NOT NULL REFERENCES mailboxes (address),
    message_id  text NOT NULL,
    tenant_id   text NOT NULL REFERENCES tenants (id),
    mail_from   text NOT NULL,
    sha256      text NOT NULL,
    size        bigint NOT NULL,
    content     bytea NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mailbox, message_id)
);

-- Audit timeline (owned by tracing). event_id makes the store idempotent.
CREATE TABLE audit_events (
    seq                bigserial,
    event_id           text PRIMARY KEY,
    message_id         text NOT NULL,
    code               integer NOT NULL,
    service            text NOT NULL,
    at                 timestamptz NOT NULL,
    tenant_id          text NOT NULL DEFAULT '',
    recipient          text NOT NULL DEFAULT '',
    status             integer NOT NULL DEFAULT 0,
    reply              text NOT NULL DEFAULT '',
    reason             text NOT NULL DEFAULT '',
    trust_list_version text NOT NULL DEFAULT '',
    directory_version  text NOT NULL DEFAULT '',
    trace_id           text NOT NULL DEFAULT '',
    attempt            integer NOT NULL DEFAULT 0,
    mail_from          text NOT NULL DEFAULT '',
    next_hop           text NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_by_message ON audit_events (message_id, at, seq);
