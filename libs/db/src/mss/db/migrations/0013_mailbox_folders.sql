-- Hosted mailboxes get folders and flags, for a webmail or an IMAP gateway (owned by storage).
ALTER TABLE stored_messages
    ADD COLUMN folder text NOT NULL DEFAULT 'INBOX' CHECK (length(folder) BETWEEN 1 AND 64),
    ADD COLUMN flags text[] NOT NULL DEFAULT '{}';
CREATE INDEX stored_messages_by_folder ON stored_messages (mailbox, folder, stored_at);
