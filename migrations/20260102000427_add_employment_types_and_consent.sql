-- Migration 03 of 18: 20260102000427_add_employment_types_and_consent
-- Consent tracking: consent_audit_log and check_auto_tracking_consent() (1 table, 1 function).
--
-- Apply as a superuser (or as workmonitor_owner once the roles exist), in order, e.g.
--   psql -v ON_ERROR_STOP=1 -f 20260102000427_add_employment_types_and_consent.sql
-- or with `workmonitor-server migrate`, which runs each file in its own transaction.
-- Idempotent: every statement can run again on a database that already has it, and changes nothing then.
-- Objects are created as workmonitor_owner (SET ROLE below); RESET ROLE at the end.

set client_min_messages = warning;  -- "policy ... does not exist, skipping" is the expected case
set role workmonitor_owner;



-- consent_audit_log: Every consent granted or revoked (agent kind consent_event); append-only
create table if not exists public.consent_audit_log (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  user_id uuid not null references public.users(user_id) on delete cascade,
  consent_type text not null default 'auto_tracking' check (consent_type in ('auto_tracking', 'screenshots', 'screen_recording', 'activity', 'app_usage', 'website_usage', 'gps', 'usb')),
  action text not null default 'granted' check (action in ('granted', 'revoked')),
  agreement_id uuid references public.work_agreements(id) on delete set null,
  policy_version text not null default '1',
  source text not null default 'agent' check (source in ('agent', 'web', 'admin_import')),
  created_at timestamptz not null default now()
);
comment on table public.consent_audit_log is 'Every consent granted or revoked (agent kind consent_event); append-only';

create index if not exists consent_audit_log_user_type_created_idx on public.consent_audit_log (user_id, consent_type, created_at desc);
create index if not exists consent_audit_log_created_brin on public.consent_audit_log using brin (created_at);

-- Whether the user's latest auto_tracking consent is a grant. SECURITY INVOKER: callers see what their
-- policies let them see (the employee their own log, an admin their company's).
create or replace function public.check_auto_tracking_consent(p_user_id uuid) returns boolean
language sql stable
as $$
  select coalesce((select c.action = 'granted'
                   from public.consent_audit_log c
                   where c.user_id = p_user_id and c.consent_type = 'auto_tracking'
                   order by c.created_at desc, c.id desc
                   limit 1), false)
$$;
comment on function public.check_auto_tracking_consent(uuid) is
  'True when the latest auto_tracking consent of the user is a grant';

-- Row level security: enabled and forced on every table; default deny until a policy allows.

alter table public.consent_audit_log enable row level security;
alter table public.consent_audit_log force row level security;

-- Policies (first written with auth.uid() per row; migrations 14-17 rewrite them to the
-- (select auth.uid()) form). CREATE POLICY has no IF NOT EXISTS, hence drop-then-create.

drop policy if exists consent_audit_log_owner_admin_read_owner_insert on public.consent_audit_log;
create policy consent_audit_log_owner_admin_read_owner_insert on public.consent_audit_log as permissive for all to workmonitor_app
  using ((user_id = auth.uid()) or (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = consent_audit_log.company_id)))
  with check (user_id = auth.uid() and company_id = auth.company_id());

-- The runtime role gets exactly the commands its policies can allow.

revoke all on public.consent_audit_log from workmonitor_app, public;
grant select, insert on public.consent_audit_log to workmonitor_app;

reset role;
reset client_min_messages;
