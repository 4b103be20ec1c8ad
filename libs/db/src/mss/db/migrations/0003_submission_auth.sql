-- Submission: people authenticate with SMTP AUTH, by password or with a Pro Sante Connect token.
-- The national identifier (RPPS, 11 digits) of the person owning a personal mailbox.
ALTER TABLE mailboxes ADD COLUMN owner_rpps text CHECK (owner_rpps ~ '^[0-9]{11}$');
CREATE INDEX mailboxes_by_owner_rpps ON mailboxes (owner_rpps) WHERE owner_rpps IS NOT NULL;

-- Password of a personal or organisational mailbox, as a slow salted hash (scrypt), never in clear.
CREATE TABLE mailbox_credentials (
    address        text PRIMARY KEY REFERENCES mailboxes (address),
    password_hash  text NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Organisational mailboxes delegated to personal ones: the delegate may send as the mailbox.
CREATE TABLE delegations (
    mailbox     text NOT NULL REFERENCES mailboxes (address),
    delegate    text NOT NULL REFERENCES mailboxes (address),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mailbox, delegate),
    CHECK (mailbox <> delegate)
);
CREATE INDEX delegations_by_delegate ON delegations (delegate);
