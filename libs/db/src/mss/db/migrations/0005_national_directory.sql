-- The national directory mirror (R-DIR-3, R-DIR-6): the ANS daily extraction of MSSanté mailboxes,
-- completed between two files by the Annuaire Santé FHIR API (R-DIR-1, R-DIR-2).
--
-- Each import is a version. Its entries are loaded into a table of their own, indexed, then attached
-- as a partition of national_entries and made the version in force (national_current) in one
-- transaction: lookups read only the version in force, so they see the old directory or the new one,
-- never a half-imported one. The partitions of older versions are then detached and dropped.

CREATE TABLE national_versions (
    id            bigserial PRIMARY KEY,
    source        text NOT NULL CHECK (source IN ('extraction', 'fhir')),  -- fhir: an empty base for the API
    origin        text NOT NULL DEFAULT '',       -- the file or URL imported
    file_name     text NOT NULL DEFAULT '',       -- e.g. Extraction_Correspondance_MSSante_202608261013.txt
    file_date     timestamptz,                    -- generation time, from the file name
    started_at    timestamptz NOT NULL DEFAULT now(),
    imported_at   timestamptz,                    -- when it became the version in force
    rows_read     bigint NOT NULL DEFAULT 0,      -- data lines of the file
    row_count     bigint NOT NULL DEFAULT 0,      -- entries of the version
    invalid_rows  bigint NOT NULL DEFAULT 0,
    duplicates    bigint NOT NULL DEFAULT 0,      -- rows replaced by a later row with the same address
    status        text NOT NULL DEFAULT 'loading'
                  CHECK (status IN ('loading', 'active', 'retired', 'failed')),
    detail        text NOT NULL DEFAULT ''        -- why a failed import failed
);
-- At most one version in force.
CREATE UNIQUE INDEX national_versions_one_active ON national_versions (status) WHERE status = 'active';

-- The version in force: one row, switched by the transaction that ends an import.
CREATE TABLE national_current (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version_id  bigint REFERENCES national_versions (id)
);
INSERT INTO national_current (version_id) VALUES (NULL);

-- Entries of every version, one partition per version. The *_key columns are search keys:
-- lowercase, unaccented, only [a-z0-9 ] (see mss.directory.national.keys), compared bytewise.
CREATE TABLE national_entries (
    version_id         bigint NOT NULL,
    address            text NOT NULL,                 -- lowercase; the only key the file has
    line               integer NOT NULL DEFAULT 0,    -- line in the file (0: from the FHIR API)
    type               text NOT NULL CHECK (type IN ('PER', 'ORG', 'APP', 'CAB')),
    id_type            text NOT NULL DEFAULT '',      -- Type Identifiant PP (8: RPPS, 0: ADELI)
    pp_id              text NOT NULL DEFAULT '',      -- Identifiant PP
    national_id        text NOT NULL DEFAULT '',      -- Identification nationale PP
    rpps               text CHECK (rpps ~ '^[0-9]{11}$'),  -- pp_id when id_type says RPPS
    structure_id_type  text NOT NULL DEFAULT '',
    structure_id       text NOT NULL DEFAULT '',
    service            text NOT NULL DEFAULT '',
    civility           text NOT NULL DEFAULT '',
    last_name          text NOT NULL DEFAULT '',
    first_name         text NOT NULL DEFAULT '',
    profession_code    text NOT NULL DEFAULT '',
    profession_label   text NOT NULL DEFAULT '',
    speciality_code    text NOT NULL DEFAULT '',      -- savoir-faire
    speciality_label   text NOT NULL DEFAULT '',
    structure_name     text NOT NULL DEFAULT '',      -- raison sociale (else enseigne commerciale)
    postal_code        text NOT NULL DEFAULT '',
    city               text NOT NULL DEFAULT '',      -- from L6 (ligne d'acheminement) without CEDEX
    department         text NOT NULL DEFAULT '',
    country            text NOT NULL DEFAULT '',
    name_key           text COLLATE "C" NOT NULL DEFAULT '',  -- PER: "last first"; ORG: structure name
    alt_key            text COLLATE "C" NOT NULL DEFAULT '',  -- PER: "first last"; ORG: service
    profession_key     text COLLATE "C" NOT NULL DEFAULT '',
    city_key           text COLLATE "C" NOT NULL DEFAULT '',
    PRIMARY KEY (version_id, address)
) PARTITION BY LIST (version_id);

-- Completion search: a prefix range on a key, read in (key, name, address) order, stops after N rows
-- (top N). The address makes the order total, so no group of equal keys has to be sorted.
CREATE INDEX national_entries_by_name ON national_entries (name_key, address);
CREATE INDEX national_entries_by_alt ON national_entries (alt_key, address);
CREATE INDEX national_entries_by_rpps ON national_entries (rpps) WHERE rpps IS NOT NULL;
CREATE INDEX national_entries_by_profession ON national_entries (profession_key, name_key, address);
CREATE INDEX national_entries_by_city ON national_entries (city_key, name_key, address);

-- Incremental sync state per source (fhir): changes since `cursor` are asked next time.
CREATE TABLE national_sync (
    source        text PRIMARY KEY,
    cursor        timestamptz,
    last_run_at   timestamptz,
    last_upserts  bigint NOT NULL DEFAULT 0
);
