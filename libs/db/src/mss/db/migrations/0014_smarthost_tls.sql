-- How egress secures the link to a proxy-mode establishment's server: STARTTLS required without
-- checking the certificate (encrypt, the default), STARTTLS with the certificate checked (verify),
-- or plain SMTP as an explicit choice for a link protected otherwise (none). Never a fallback.
ALTER TABLE domains
    ADD COLUMN smarthost_tls text NOT NULL DEFAULT 'encrypt' CHECK (smarthost_tls IN ('encrypt', 'verify', 'none'));
