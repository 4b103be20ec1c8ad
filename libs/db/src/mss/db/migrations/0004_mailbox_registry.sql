-- The mailbox registry of R-BAL-2, the lifecycle of R-BAL-3/4 and its history.
ALTER TABLE mailboxes
    ADD COLUMN red_list          boolean NOT NULL DEFAULT false,   -- listeRouge: never published
    ADD COLUMN preferred_rank    integer CHECK (preferred_rank BETWEEN 1 AND 99),
    ADD COLUMN description       text,                             -- ORG, APP, CAB
    ADD COLUMN service           text,                             -- attachment service: ORG, APP
    ADD COLUMN operational_owner text,                             -- ORG, APP; not public
    ADD COLUMN structure_finess  text CHECK (structure_finess ~ '^[0-9A-B]{9}$'),  -- ORG, APP
    ADD COLUMN updated_at        timestamptz NOT NULL DEFAULT now();

-- Address, type and tenant never change; a deleted mailbox stays deleted (its address is never reused).
CREATE FUNCTION mailboxes_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.address <> OLD.address OR NEW.type <> OLD.type OR NEW.tenant_id <> OLD.tenant_id THEN
        RAISE EXCEPTION 'address, type and tenant of mailbox % cannot change', OLD.address
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.status = 'deleted' AND NEW.status <> 'deleted' THEN
        RAISE EXCEPTION 'mailbox % is deleted', OLD.address USING ERRCODE = 'check_violation';
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END $$;
CREATE TRIGGER mailboxes_guard BEFORE UPDATE ON mailboxes FOR EACH ROW EXECUTE FUNCTION mailboxes_guard();

-- Every change of a mailbox: creation, field changes, status transitions, delegations.
CREATE TABLE mailbox_events (
    seq          bigserial PRIMARY KEY,
    address      text NOT NULL REFERENCES mailboxes (address),
    at           timestamptz NOT NULL DEFAULT now(),
    action       text NOT NULL,
    from_status  text,
    to_status    text,
    actor        text NOT NULL,
    detail       text NOT NULL DEFAULT ''
);
CREATE INDEX mailbox_events_by_address ON mailbox_events (address, seq);
