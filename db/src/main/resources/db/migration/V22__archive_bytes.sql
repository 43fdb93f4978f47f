-- Service Farm schema, version 22: an archive's size counts to its project's stored bytes.
-- The size of the archive a VM's archive_ref names, read from the image store when the VM is
-- recorded ARCHIVED; NULL for archives made before this version (counted as 0 until the VM is
-- archived again). Works with version 21's code, which leaves it NULL.
ALTER TABLE vms
    ADD COLUMN archive_bytes bigint CHECK (archive_bytes >= 0);
