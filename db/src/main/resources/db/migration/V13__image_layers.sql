-- Service Farm schema, version 13: images in layers.
-- A composed image is a service layer (its packages, command and name) over a base layer (Debian
-- minbase, the kernel, busybox and the farm's init) that every service of the same suite,
-- architecture, kernel and mirrors shares. The base is composed once, recorded here, and its
-- blobs (the qcow2 layers are backed by, the tree service layers are installed into, the kernel
-- and the initrd) stay in the blob store for every controller to build on.
-- Works with version 12's code: it reads neither the table nor the new columns, and the images it
-- composes whole leave base_layer_sha256 NULL, which says "no backing layer".

CREATE TABLE base_layers (
    base_key      text        PRIMARY KEY CHECK (base_key ~ '^[0-9a-f]{64}$'),
    disk_sha256   text        NOT NULL CHECK (disk_sha256 ~ '^[0-9a-f]{64}$'),
    disk_size     bigint      NOT NULL CHECK (disk_size > 0),
    tree_sha256   text        NOT NULL CHECK (tree_sha256 ~ '^[0-9a-f]{64}$'),
    tree_size     bigint      NOT NULL CHECK (tree_size > 0),
    kernel_sha256 text        NOT NULL CHECK (kernel_sha256 ~ '^[0-9a-f]{64}$'),
    initrd_sha256 text        NOT NULL CHECK (initrd_sha256 ~ '^[0-9a-f]{64}$'),
    created_at    timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE images
    -- The layer the image's disk is backed by (its qcow2 names it by this digest); NULL for a
    -- disk that stands alone (registered, uploaded, or composed whole by an earlier version).
    ADD COLUMN base_layer_sha256     text   CHECK (base_layer_sha256 ~ '^[0-9a-f]{64}$'),
    ADD COLUMN base_layer_size_bytes bigint NOT NULL DEFAULT 0 CHECK (base_layer_size_bytes >= 0);
