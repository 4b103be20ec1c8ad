-- Who each establishment exchanged with: the basis of "local directory of correspondents up to date".
CREATE TABLE correspondents (
    tenant_id   text NOT NULL REFERENCES tenants (id),
    address     text NOT NULL,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    sent        bigint NOT NULL DEFAULT 0,   -- messages from the establishment to the address
    received    bigint NOT NULL DEFAULT 0,   -- messages from the address to the establishment
    PRIMARY KEY (tenant_id, address)
);
