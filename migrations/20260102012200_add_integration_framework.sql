-- Migration 10 of 18: 20260102012200_add_integration_framework
-- Third-party integrations and their sync logs (2 tables).
--
-- Apply as a superuser (or as workmonitor_owner once the roles exist), in order, e.g.
--   psql -v ON_ERROR_STOP=1 -f 20260102012200_add_integration_framework.sql
-- or with `workmonitor-server migrate`, which runs each file in its own transaction.
-- Idempotent: every statement can run again on a database that already has it, and changes nothing then.
-- Objects are created as workmonitor_owner (SET ROLE below); RESET ROLE at the end.

set client_min_messages = warning;  -- "policy ... does not exist, skipping" is the expected case
set role workmonitor_owner;



-- integrations: Third-party integrations of a company (secrets by reference only)
create table if not exists public.integrations (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  provider text not null,
  name text not null,
  config jsonb not null default '{}',
  credentials_ref text,
  status text not null default 'active' check (status in ('active', 'disabled', 'error')),
  last_synced_at timestamptz,
  last_error text,
  created_by uuid references public.users(user_id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.integrations is 'Third-party integrations of a company (secrets by reference only)';

create unique index if not exists integrations_company_provider_key on public.integrations (company_id, provider, name);

-- integration_sync_logs: One run of an integration sync (written by the sync worker)
create table if not exists public.integration_sync_logs (
  id uuid primary key default gen_random_uuid(),
  integration_id uuid not null references public.integrations(id) on delete cascade,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  status text not null default 'running' check (status in ('running', 'succeeded', 'failed')),
  items_synced integer not null default 0,
  error text,
  details jsonb not null default '{}',
  created_at timestamptz not null default now()
);
comment on table public.integration_sync_logs is 'One run of an integration sync (written by the sync worker)';

create index if not exists integration_sync_logs_integration_started_idx on public.integration_sync_logs (integration_id, started_at desc);

-- Row level security: enabled and forced on every table; default deny until a policy allows.

alter table public.integrations enable row level security;
alter table public.integrations force row level security;
alter table public.integration_sync_logs enable row level security;
alter table public.integration_sync_logs force row level security;

-- Policies (first written with auth.uid() per row; migrations 14-17 rewrite them to the
-- (select auth.uid()) form). CREATE POLICY has no IF NOT EXISTS, hence drop-then-create.

drop policy if exists integrations_member_select on public.integrations;
create policy integrations_member_select on public.integrations as permissive for select to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.company_id = integrations.company_id));
drop policy if exists integrations_admin_all on public.integrations;
create policy integrations_admin_all on public.integrations as permissive for all to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = integrations.company_id))
  with check (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = integrations.company_id));

drop policy if exists integration_sync_logs_admin_read_system_write on public.integration_sync_logs;
create policy integration_sync_logs_admin_read_system_write on public.integration_sync_logs as permissive for all to workmonitor_app
  using ((exists (select 1 from public.integrations p join public.users u on u.company_id = p.company_id where p.id = integration_sync_logs.integration_id and u.user_id = auth.uid() and u.role = 'admin')) or (auth.role() = 'service'))
  with check (auth.role() = 'service');

-- The runtime role gets exactly the commands its policies can allow.

revoke all on public.integrations from workmonitor_app, public;
grant select, insert, update, delete on public.integrations to workmonitor_app;
revoke all on public.integration_sync_logs from workmonitor_app, public;
grant select, insert on public.integration_sync_logs to workmonitor_app;

reset role;
reset client_min_messages;
