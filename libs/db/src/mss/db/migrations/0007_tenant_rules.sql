-- Rules each establishment chooses for its senders (policy applies them, read through the directory).
-- mixed_recipients: a message for both trust-space and outside recipients is refused whole at the
-- end of DATA (default), or delivered to the trust-space recipients only, the others refused.
ALTER TABLE tenants
    ADD COLUMN mixed_recipients text NOT NULL DEFAULT 'refuse_whole'
        CHECK (mixed_recipients IN ('refuse_whole', 'deliver_valid'));
