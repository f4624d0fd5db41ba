-- The posts made by importing an archive (see src/archive.rs): `importer` (the local actor
-- id that imported), `original` (the post's id where it was first published), `post` (the
-- post made here). Importing an archive again skips the posts already made from it.
CREATE TABLE pd_imports (
    importer TEXT NOT NULL,
    original TEXT NOT NULL,
    post TEXT NOT NULL,
    PRIMARY KEY (importer, original)
);
