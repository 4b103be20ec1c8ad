-- The search tables of 0016 are kept by tracing as events arrive; events recorded before hold no
-- rows there, and row-level security shows a message's events only with its row. This fills them
-- from the events (idempotent; run here once, and callable again: SELECT audit_search_backfill()).
-- Events about no message (sign-ins, directory changes) have no row.
DELETE FROM audit_recipients WHERE message_id = '';
DELETE FROM audit_messages WHERE message_id = '';

CREATE FUNCTION audit_search_backfill() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    added bigint;
BEGIN
    WITH facts AS (
        SELECT message_id, min(at) AS first_at, max(at) AS last_at,
            coalesce(min(lower(mail_from)) FILTER (WHERE mail_from <> ''), '') AS mail_from,
            coalesce(min(patient_hash) FILTER (WHERE patient_hash <> ''), '') AS patient_hash,
            coalesce(min(header_message_id) FILTER (WHERE header_message_id <> ''), '') AS header_message_id,
            coalesce(array_agg(DISTINCT tenant_id) FILTER (WHERE tenant_id <> ''), '{}') AS tenants
        FROM audit_events
        WHERE message_id <> ''
            AND NOT EXISTS (SELECT 1 FROM audit_messages m WHERE m.message_id = audit_events.message_id)
        GROUP BY message_id
    )
    INSERT INTO audit_messages (message_id, first_at, last_at, mail_from, sender_tenant, tenants,
        patient_hash, header_message_id)
    SELECT f.message_id, f.first_at, f.last_at, f.mail_from, coalesce(d.tenant_id, ''),
        ARRAY(SELECT DISTINCT t FROM unnest(f.tenants || d.tenant_id) t WHERE t <> '' ORDER BY t),
        f.patient_hash, f.header_message_id
    FROM facts f
    LEFT JOIN domains d ON f.mail_from <> '' AND d.name = split_part(f.mail_from, '@', 2)
    ON CONFLICT (message_id) DO NOTHING;
    GET DIAGNOSTICS added = ROW_COUNT;

    INSERT INTO audit_recipients (message_id, recipient, tenant_id, status, at, attempts, reply, tenants)
    SELECT DISTINCT ON (e.message_id, lower(e.recipient))
        e.message_id, lower(e.recipient),
        coalesce(max(e.tenant_id) OVER (PARTITION BY e.message_id, lower(e.recipient)), ''),
        e.status, e.at,
        max(e.attempt) OVER (PARTITION BY e.message_id, lower(e.recipient)),
        e.reply, m.tenants
    FROM audit_events e JOIN audit_messages m ON m.message_id = e.message_id
    WHERE e.message_id <> '' AND e.recipient <> '' AND e.status <> 0 AND e.code <> 302
    ORDER BY e.message_id, lower(e.recipient), e.at DESC, e.seq DESC
    ON CONFLICT (message_id, recipient) DO NOTHING;
    RETURN added;
END $$;

SELECT audit_search_backfill();
