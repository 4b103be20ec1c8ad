"""The national directory mirror: the ANS daily extraction of MSSanté mailboxes (R-DIR-3) and the
Annuaire Santé FHIR API (R-DIR-1, R-DIR-2), mirrored into PostgreSQL for lookups and search.

- :mod:`.extraction` reads and validates the extraction file, streaming;
- :mod:`.importer` loads it as a new version and switches to it atomically (:mod:`.versions`);
- :mod:`.fhir` applies the API's changes since the last sync to the version in force;
- :mod:`.queries` answers lookups and completion searches;
- :mod:`.generate` writes synthetic extraction files; ``python -m mss.directory.national`` runs them.
"""
