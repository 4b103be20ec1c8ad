-- Applicative mailboxes authenticate at submission with a client certificate (ORG_AUTH_CLI):
-- the subject DN of the certificate allowed to send as the mailbox.
ALTER TABLE mailboxes ADD COLUMN certificate_dn text;
