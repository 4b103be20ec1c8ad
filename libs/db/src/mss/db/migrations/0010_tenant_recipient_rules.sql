-- More of each establishment's rules, applied by policy at RCPT time.
-- suspended_reply: a suspended mailbox is refused temporarily (450 4.2.1: the sender retries, and
-- gets it delivered if the mailbox comes back) or permanently (550 5.2.1, the default).
-- strict_national: its people may only write to another operator's addresses that the national
-- directory mirror lists (not merely to a domain of the allowed-domain list).
ALTER TABLE tenants
    ADD COLUMN suspended_reply text NOT NULL DEFAULT 'permanent' CHECK (suspended_reply IN ('permanent', 'temporary')),
    ADD COLUMN strict_national boolean NOT NULL DEFAULT false;
