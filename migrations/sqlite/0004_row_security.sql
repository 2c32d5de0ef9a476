-- PostgreSQL adds row-level security on the case tables here. SQLite has no
-- such policies: the organisation in every query is the wall. Kept so both
-- dialects share their migration numbers.
SELECT 1;
