-- The timeline (SQLite): every new message takes a `position` in one sequence that the people's
-- event `seq`s share, and a person's stream is their own event rows merged with the messages of
-- their chats, by position, instead of one event row per person for every message. `floor` is
-- the sequence's floor, as the other counters' (0005): the newest position is the larger of the
-- floor and the newest message or event row, and whatever deletes messages or events raises the
-- floor to the positions it deletes. It starts above every `seq` handed out so far, so that a
-- client resuming after an old `seq` misses nothing and sees nothing twice. Messages stored
-- before this have no position and stay in the streams through their event rows.
ALTER TABLE messages ADD COLUMN position BIGINT;
CREATE TABLE timeline (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    floor BIGINT NOT NULL
);
INSERT INTO timeline (id, floor)
SELECT 1, MAX(COALESCE((SELECT MAX(seq) FROM user_events), 0),
              COALESCE((SELECT MAX(event_seq) FROM users), 0));
