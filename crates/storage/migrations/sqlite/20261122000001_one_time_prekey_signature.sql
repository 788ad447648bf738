-- One-time KEM prekeys are signed, and clients verify that signature: keep it.
ALTER TABLE one_time_prekeys ADD COLUMN signature BLOB;
