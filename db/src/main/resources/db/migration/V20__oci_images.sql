-- Service Farm schema, version 20: OCI images.
-- An OCI image archive (an OCI image layout or a docker save, as a tar) is an image of the format
-- 'oci': its bytes are a blob like any upload's, and what its config says to run and expose is
-- recorded beside it. It is never booted itself: a definition that uses it gets an image built from
-- it (its layers over the farm's base layer, with the definition's command), which names the
-- archive it was built from.
-- Works with version 19's code: that code never writes 'oci' images, reads neither the table nor
-- the new column, and lists an 'oci' image like any other.

ALTER TABLE images DROP CONSTRAINT images_format_check;
ALTER TABLE images ADD CONSTRAINT images_format_check
    CHECK (format IN ('qcow2', 'raw', 'oci'));

CREATE TABLE oci_images (
    image_id uuid      PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
    layout   text      NOT NULL CHECK (layout IN ('oci layout', 'docker save')),
    -- The config's Entrypoint and Cmd as one shell command ('' when it names neither).
    command  text      NOT NULL CHECK (length(command) <= 4096),
    -- The config's exposed TCP ports, ascending.
    ports    integer[] NOT NULL DEFAULT '{}'
);

ALTER TABLE images
    -- The OCI image archive a built image was made from; NULL for every other image.
    ADD COLUMN oci_source_id uuid REFERENCES images (id),
    ADD CONSTRAINT images_oci_built_is_built CHECK (oci_source_id IS NULL OR input_hash IS NOT NULL);
