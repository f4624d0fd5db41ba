-- The tags a relay subscription is for (see src/relays.rs): a JSON array of normalized tags,
-- whose public posts alone the pod sends that relay; NULL for all its public posts.
ALTER TABLE pd_relays ADD COLUMN tags TEXT;
