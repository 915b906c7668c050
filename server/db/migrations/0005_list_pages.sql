-- 0005_list_pages: the two API lists, measured at realistic volumes (docs/PERFORMANCE.md, API).
--
-- 1. Each conversation keeps its public JSON in item_json, written by a trigger on every insert
--    and update, so a 200-item page concatenates stored text instead of formatting 1,000
--    values (400 of them timestamps) on every read: json_agg over the rows cost PostgreSQL
--    about 0.4 ms of a page's 0.75 ms. Lists are read far more often than conversations change.
--    The trigger is the only writer of item_json, so it cannot disagree with the row.
--
-- 2. A page is read by a function that pins the plan to the ordered index range scan. The API
--    statement finds the user (or the conversation) from the session inside the same
--    statement, so the planner never knows whose rows it reads and costs the scan for the
--    average user: with 1M conversations over 10k users it chose a bitmap scan of every row
--    of the user plus a sort, 3.8 ms a page for a user with 10k conversations and 12.6 ms for
--    20k, where the index range scan reads 201 rows in 0.3 ms whoever the user is. A bitmap
--    scan can never beat the ordered scan for a bounded page, so the functions turn it off for
--    their own statement (SET on the function, restored on return: it travels with the
--    function, also through PgBouncer, where startup options are refused). PL/pgSQL keeps the
--    plan per connection, so a page is not planned again on every call either.

ALTER TABLE conversations ADD COLUMN item_json text;

-- The column list is the API's conversation object (conversations.c).
CREATE FUNCTION conversations_item_json() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.item_json := (SELECT row_to_json(c)::text
                        FROM (SELECT NEW.id AS id, NEW.title AS title, NEW.archived AS archived,
                                     NEW.created_at AS created_at, NEW.updated_at AS updated_at) c);
    RETURN NEW;
END $$;

CREATE TRIGGER conversations_item_json BEFORE INSERT OR UPDATE ON conversations
    FOR EACH ROW EXECUTE FUNCTION conversations_item_json();

UPDATE conversations SET item_json = NULL; -- the trigger writes every row's JSON
ALTER TABLE conversations ALTER COLUMN item_json SET NOT NULL;

-- One page of a user's conversations, newest first, strictly before the cursor
-- (p_before_micros, p_before_id; NULLs = the first page). Returns the page's JSON array,
-- whether more rows follow, and the last row's key for the next cursor (NULL when no more).
-- Expensive expressions are taken of the one aggregated row, not evaluated for all 201.
CREATE FUNCTION conversation_page(p_user uuid, p_archived boolean, p_before_micros bigint,
                                  p_before_id uuid, p_limit integer,
                                  OUT items text, OUT more boolean, OUT last_micros bigint,
                                  OUT last_id text)
LANGUAGE plpgsql STABLE SET enable_bitmapscan = off AS $$
BEGIN
    SELECT '[' || coalesce(string_agg(p.item_json, ',') FILTER (WHERE p.n <= p_limit), '') || ']',
           count(*) > p_limit,
           (extract(epoch FROM max(p.updated_at) FILTER (WHERE p.n = p_limit)) * 1000000)::bigint,
           ((array_agg(p.id) FILTER (WHERE p.n = p_limit))[1])::text
      INTO items, more, last_micros, last_id
      FROM (SELECT r.*, row_number() OVER () AS n
              FROM (SELECT c.id, c.item_json, c.updated_at FROM conversations c
                     WHERE c.user_id = p_user AND c.archived = p_archived
                       AND (c.updated_at, c.id) <
                           (coalesce(timestamptz 'epoch' + p_before_micros * interval '1 microsecond', 'infinity'),
                            coalesce(p_before_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
                     ORDER BY c.updated_at DESC, c.id DESC
                     LIMIT p_limit + 1) r) p;
END $$;

-- One page of a conversation's messages, oldest first, strictly after the cursor. Messages
-- are built into JSON here on read: their content (up to 64 KiB) is most of their size, and
-- a stored copy would double the table for a list read less often than conversations.
CREATE FUNCTION message_page(p_conversation uuid, p_after_micros bigint, p_after_id uuid,
                             p_limit integer,
                             OUT items text, OUT more boolean, OUT last_micros bigint,
                             OUT last_id text)
LANGUAGE plpgsql STABLE SET enable_bitmapscan = off AS $$
BEGIN
    SELECT coalesce(json_agg(p.r) FILTER (WHERE p.n <= p_limit), '[]')::text,
           count(*) > p_limit,
           (extract(epoch FROM max((p.r).created_at) FILTER (WHERE p.n = p_limit)) * 1000000)::bigint,
           ((array_agg((p.r).id) FILTER (WHERE p.n = p_limit))[1])::text
      INTO items, more, last_micros, last_id
      FROM (SELECT r, row_number() OVER () AS n
              FROM (SELECT m.id, m.conversation_id, m.role, m.content, m.created_at FROM messages m
                     WHERE m.conversation_id = p_conversation
                       AND (m.created_at, m.id) >
                           (coalesce(timestamptz 'epoch' + p_after_micros * interval '1 microsecond', '-infinity'),
                            coalesce(p_after_id, '00000000-0000-0000-0000-000000000000'))
                     ORDER BY m.created_at, m.id
                     LIMIT p_limit + 1) r) p;
END $$;
