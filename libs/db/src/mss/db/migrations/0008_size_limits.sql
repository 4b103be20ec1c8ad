-- An establishment's largest message (bytes), for what its people send and what its mailboxes
-- receive; a mailbox's own max_message_bytes, when set, may lower it further.
ALTER TABLE tenants ADD COLUMN max_message_bytes bigint CHECK (max_message_bytes > 0);
