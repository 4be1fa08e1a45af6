"""The results ledger: one record per finished trial (atomic, content-addressed), the claim files
that keep many writers from running a trial twice, code fingerprints that tell fresh records from
stale ones, and export to a Hugging Face dataset."""
