-- Party filters (agent, queue, "My call recordings") drive the search: their
-- index carries the keyset columns, so a page is one ordered index range.
CREATE INDEX call_parties_keyset ON call_parties (tenant_id, role, name, start_us, call_id);
DROP INDEX call_parties_by_name;
