-- 0004_list_order_indexes: what P8003 missed, measured. The API lists are keyset-paginated
-- and ordered; an index whose columns match the WHERE then the ORDER BY lets PostgreSQL read
-- the first page straight off the index, with no Sort node. With (user_id, archived) alone a
-- user with 20k conversations costs a bitmap scan of all 20k rows plus a top-N sort.

-- GET /api/conversations: WHERE user_id = $1 AND archived = $2
--                         ORDER BY updated_at DESC, id DESC LIMIT n
CREATE INDEX conversations_user_id_archived_updated_at_id_idx
    ON conversations (user_id, archived, updated_at DESC, id DESC);
DROP INDEX conversations_user_id_archived_idx; -- a prefix of the new index

-- GET /api/conversations/{id}/messages: WHERE conversation_id = $1 ORDER BY created_at, id
CREATE INDEX messages_conversation_id_created_at_id_idx ON messages (conversation_id, created_at, id);
DROP INDEX messages_conversation_id_idx; -- a prefix of the new index
