-- Migration 15 of 18: 20260102091645_fix_remaining_warnings_v2
-- Remaining linter warnings: functions are no longer executable by PUBLIC, only by the runtime role; the meta schema is closed to PUBLIC.
--
-- Apply as a superuser (or as workmonitor_owner once the roles exist), in order, e.g.
--   psql -v ON_ERROR_STOP=1 -f 20260102091645_fix_remaining_warnings_v2.sql
-- or with `workmonitor-server migrate`, which runs each file in its own transaction.
-- Idempotent: every statement can run again on a database that already has it, and changes nothing then.
-- Objects are created as workmonitor_owner (SET ROLE below); RESET ROLE at the end.

set client_min_messages = warning;  -- "policy ... does not exist, skipping" is the expected case
set role workmonitor_owner;

-- Functions are executable by PUBLIC by default; only the runtime role (and the owner) need them.
revoke execute on all functions in schema public, auth from public;
grant execute on all functions in schema public, auth to workmonitor_app;
-- Nothing of meta is for anyone but the owner.
revoke all on schema meta from public;
revoke all on all tables in schema meta from public;

reset role;
reset client_min_messages;
