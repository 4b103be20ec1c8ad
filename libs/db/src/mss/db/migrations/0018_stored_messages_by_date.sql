-- Storage's content retention looks for the oldest hosted messages first (mss.storage.retention).
CREATE INDEX stored_messages_by_date ON stored_messages (stored_at);
