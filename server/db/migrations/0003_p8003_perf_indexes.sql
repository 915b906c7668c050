-- 0003_p8003_perf_indexes: the index changes of performance report P8003.
-- Runs in one transaction: on a failure nothing is half-applied. (Plain CREATE INDEX locks
-- writes to each table while it builds; for a large live table, a follow-up file marked
-- "-- tessera:no-transaction" can use CREATE INDEX CONCURRENTLY instead.)

-- Sessions: the GC deletes by expires_at; "sign out everywhere" and the user cascade go by user_id.
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

-- Accounts: sign-in finds the credential account by (provider_id, account_id) or by user_id.
CREATE INDEX accounts_provider_id_account_id_idx ON accounts (provider_id, account_id);
CREATE INDEX accounts_user_id_idx ON accounts (user_id);

-- Conversations: every list filters on both; the single-column indexes are superseded
-- (user_id is the new index's leading column, and archived alone is far too unselective).
CREATE INDEX conversations_user_id_archived_idx ON conversations (user_id, archived);
DROP INDEX conversations_user_id_idx;
DROP INDEX conversations_archived_idx;

-- Agent logs: by session and tier, and the tier sweep by age.
CREATE INDEX agent_logs_session_id_tier_idx ON agent_logs (session_id, tier);
CREATE INDEX agent_logs_tier_created_at_idx ON agent_logs (tier, created_at);
DROP INDEX agent_logs_session_id_idx;
DROP INDEX agent_logs_tier_idx;
DROP INDEX agent_logs_created_at_idx;

-- Preferences: (user_id, key) becomes UNIQUE so writes can be one INSERT ... ON CONFLICT.
-- Existing duplicates go first; the newest updated_at wins (the larger id breaks ties, so
-- the result does not depend on the plan).
DELETE FROM preferences p
USING (SELECT id, row_number() OVER (PARTITION BY user_id, key ORDER BY updated_at DESC, id DESC) AS rank
       FROM preferences) ranked
WHERE p.id = ranked.id AND ranked.rank > 1;
CREATE UNIQUE INDEX preferences_user_id_key_key ON preferences (user_id, key);
DROP INDEX preferences_user_id_key_idx;
