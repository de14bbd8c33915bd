"""polex's matching engine, one for search and cross-matching.

The pure core turns records into index keys and scores pairs: ``names`` (any script to Latin
tokens and phonetic keys), ``identifiers`` (documents, VINs, IMO/MMSI, serials, phones,
e-mails as exact keys), ``keys`` (everything a record is indexed and looked up by) and
``score`` (a candidate against a query, with the features that explain the score). The
database side stores the keys in ``record_keys``, generates candidates by looking keys up,
never by scanning, and ranks them with the scorer."""
