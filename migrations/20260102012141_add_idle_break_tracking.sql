-- Migration 09 of 18: 20260102012141_add_idle_break_tracking
-- Idle periods and breaks (2 tables).
--
-- Apply as a superuser (or as workmonitor_owner once the roles exist), in order, e.g.
--   psql -v ON_ERROR_STOP=1 -f 20260102012141_add_idle_break_tracking.sql
-- or with `workmonitor-server migrate`, which runs each file in its own transaction.
-- Idempotent: every statement can run again on a database that already has it, and changes nothing then.
-- Objects are created as workmonitor_owner (SET ROLE below); RESET ROLE at the end.

set client_min_messages = warning;  -- "policy ... does not exist, skipping" is the expected case
set role workmonitor_owner;



-- idle_periods: Idle spans and what the employee decided about them (agent kind idle_period)
create table if not exists public.idle_periods (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  user_id uuid not null references public.users(user_id) on delete cascade,
  time_entry_id uuid references public.time_entries(id) on delete set null,
  started_at timestamptz not null,
  ended_at timestamptz,
  duration_ms bigint not null default 0,
  decision text not null default 'pending' check (decision in ('pending', 'kept', 'discarded', 'break')),
  decided_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.idle_periods is 'Idle spans and what the employee decided about them (agent kind idle_period)';

create index if not exists idle_periods_user_started_idx on public.idle_periods (user_id, started_at desc);
create index if not exists idle_periods_company_started_idx on public.idle_periods (company_id, started_at);

-- breaks: Breaks taken (agent kind break)
create table if not exists public.breaks (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  user_id uuid not null references public.users(user_id) on delete cascade,
  started_at timestamptz not null,
  ended_at timestamptz,
  duration_ms bigint not null default 0,
  break_type text not null default 'rest' check (break_type in ('rest', 'meal', 'other')),
  paid boolean not null default false,
  note text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.breaks is 'Breaks taken (agent kind break)';

create index if not exists breaks_user_started_idx on public.breaks (user_id, started_at desc);
create index if not exists breaks_company_started_idx on public.breaks (company_id, started_at);

-- Row level security: enabled and forced on every table; default deny until a policy allows.

alter table public.idle_periods enable row level security;
alter table public.idle_periods force row level security;
alter table public.breaks enable row level security;
alter table public.breaks force row level security;

-- Policies (first written with auth.uid() per row; migrations 14-17 rewrite them to the
-- (select auth.uid()) form). CREATE POLICY has no IF NOT EXISTS, hence drop-then-create.

drop policy if exists idle_periods_owner_all on public.idle_periods;
create policy idle_periods_owner_all on public.idle_periods as permissive for all to workmonitor_app
  using (user_id = auth.uid())
  with check (user_id = auth.uid() and company_id = auth.company_id());
drop policy if exists idle_periods_admin_manager_select on public.idle_periods;
create policy idle_periods_admin_manager_select on public.idle_periods as permissive for select to workmonitor_app
  using ((exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = idle_periods.company_id)) or (exists (select 1 from public.manager_assignments ma where ma.manager_id = auth.uid() and ma.active and ma.employee_id = idle_periods.user_id)));

drop policy if exists breaks_owner_all on public.breaks;
create policy breaks_owner_all on public.breaks as permissive for all to workmonitor_app
  using (user_id = auth.uid())
  with check (user_id = auth.uid() and company_id = auth.company_id());
drop policy if exists breaks_admin_manager_select on public.breaks;
create policy breaks_admin_manager_select on public.breaks as permissive for select to workmonitor_app
  using ((exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = breaks.company_id)) or (exists (select 1 from public.manager_assignments ma where ma.manager_id = auth.uid() and ma.active and ma.employee_id = breaks.user_id)));

-- The runtime role gets exactly the commands its policies can allow.

revoke all on public.idle_periods from workmonitor_app, public;
grant select, insert, update on public.idle_periods to workmonitor_app;
revoke all on public.breaks from workmonitor_app, public;
grant select, insert, update on public.breaks to workmonitor_app;

reset role;
reset client_min_messages;
