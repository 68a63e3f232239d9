-- Migration 18 of 18: 20260102133909_fix_function_search_path_security
-- Security: check_auto_tracking_consent gets a fixed, empty search_path (no search-path hijacking).
--
-- Apply as a superuser (or as workmonitor_owner once the roles exist), in order, e.g.
--   psql -v ON_ERROR_STOP=1 -f 20260102133909_fix_function_search_path_security.sql
-- or with `workmonitor-server migrate`, which runs each file in its own transaction.
-- Idempotent: every statement can run again on a database that already has it, and changes nothing then.
-- Objects are created as workmonitor_owner (SET ROLE below); RESET ROLE at the end.

set client_min_messages = warning;  -- "policy ... does not exist, skipping" is the expected case
set role workmonitor_owner;

-- A function with a mutable search_path resolves names through whatever the caller set; pin it.
alter function public.check_auto_tracking_consent(uuid) set search_path = '';

reset role;
reset client_min_messages;
