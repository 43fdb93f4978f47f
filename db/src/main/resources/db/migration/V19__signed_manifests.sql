-- Service Farm schema, version 19: signed manifests.
-- Every image's manifest (the digests of the blobs it boots from, its kernel command line) and
-- every archive's manifest (the VM and the archive's digest) is signed by a controller with an
-- Ed25519 key kept in its data directory. The signed bytes are stored as signed, so verifying
-- them never depends on re-encoding. Controllers publish their public keys here so that every
-- controller tells its agents every key a manifest may be signed with (the current one and those
-- before a rotation).
-- Works with version 18's code: it reads none of the new columns or the table, and the rows it
-- writes without a manifest are signed on first use by this version.

CREATE TABLE manifest_keys (
    key_id       text        PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{16}$'),
    public_key   bytea       NOT NULL CHECK (length(public_key) BETWEEN 32 AND 1024),
    published_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE images
    ADD COLUMN manifest           bytea CHECK (length(manifest) BETWEEN 1 AND 65536),
    ADD COLUMN manifest_signature bytea CHECK (length(manifest_signature) BETWEEN 1 AND 1024),
    ADD COLUMN manifest_key_id    text  CHECK (manifest_key_id ~ '^[0-9a-f]{16}$'),
    ADD CONSTRAINT images_manifest_signed CHECK (
        (manifest IS NULL AND manifest_signature IS NULL AND manifest_key_id IS NULL)
        OR (manifest IS NOT NULL AND manifest_signature IS NOT NULL
            AND manifest_key_id IS NOT NULL));

ALTER TABLE vms
    ADD COLUMN archive_manifest           bytea CHECK (length(archive_manifest) BETWEEN 1 AND 4096),
    ADD COLUMN archive_manifest_signature bytea
        CHECK (length(archive_manifest_signature) BETWEEN 1 AND 1024),
    ADD COLUMN archive_manifest_key_id    text  CHECK (archive_manifest_key_id ~ '^[0-9a-f]{16}$'),
    ADD CONSTRAINT vms_archive_manifest_signed CHECK (
        (archive_manifest IS NULL AND archive_manifest_signature IS NULL
            AND archive_manifest_key_id IS NULL)
        OR (archive_manifest IS NOT NULL AND archive_manifest_signature IS NOT NULL
            AND archive_manifest_key_id IS NOT NULL));
