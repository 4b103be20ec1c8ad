-- Audit search by patient: the keyed hash of the INS read from the message's XDM archive.
ALTER TABLE audit_events ADD COLUMN patient_hash text NOT NULL DEFAULT '';
CREATE INDEX audit_events_by_patient ON audit_events (patient_hash, at) WHERE patient_hash <> '';
