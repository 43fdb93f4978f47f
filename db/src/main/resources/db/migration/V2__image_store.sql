-- Service Farm schema, version 2: images live in the controller's image store.
-- Every image's bytes are a blob named by its sha256. A composed image also boots a kernel and an
-- initrd of its own (blobs too) with a command line, and records why its last build failed.
-- Works with version 1's code: that code writes registered images READY without a kernel and
-- composed images PENDING, both of which these constraints allow.

ALTER TABLE images
    ADD COLUMN kernel_sha256    text CHECK (kernel_sha256 ~ '^[0-9a-f]{64}$'),
    ADD COLUMN initrd_sha256    text CHECK (initrd_sha256 ~ '^[0-9a-f]{64}$'),
    ADD COLUMN kernel_cmdline   text CHECK (length(kernel_cmdline) BETWEEN 1 AND 4096),
    ADD COLUMN build_error      text CHECK (length(build_error) BETWEEN 1 AND 8192),
    -- When the current build was claimed: a controller that died mid-build leaves a BUILDING row
    -- whose claim grows old, and another controller may take it over. Also the claim's token: the
    -- builder writes its outcome only while the row still carries the time it claimed.
    ADD COLUMN build_started_at timestamptz;

ALTER TABLE images
    -- A kernel boots only with its initrd, and only with a command line that names the root disk.
    ADD CONSTRAINT images_kernel_initrd_cmdline_together CHECK (
        (kernel_sha256 IS NULL AND initrd_sha256 IS NULL AND kernel_cmdline IS NULL)
        OR (kernel_sha256 IS NOT NULL AND initrd_sha256 IS NOT NULL AND kernel_cmdline IS NOT NULL)),
    -- A ready composed image can be booted: disk (sha256, by V1), kernel and initrd digests.
    ADD CONSTRAINT images_ready_composed_boots CHECK (
        build_state <> 'READY' OR input_hash IS NULL OR kernel_sha256 IS NOT NULL),
    -- A build under way says since when; a failed one says why.
    ADD CONSTRAINT images_building_has_claim CHECK (
        build_state <> 'BUILDING' OR build_started_at IS NOT NULL),
    ADD CONSTRAINT images_failed_says_why CHECK (
        build_state <> 'FAILED' OR build_error IS NOT NULL);
