-- Migration 02 of 18: 20260101235219_add_employee_assignments_and_agreements
-- Employment system: assignment requests, work agreements and their clauses (3 tables).
--
-- Apply as a superuser (or as workmonitor_owner once the roles exist), in order, e.g.
--   psql -v ON_ERROR_STOP=1 -f 20260101235219_add_employee_assignments_and_agreements.sql
-- or with `workmonitor-server migrate`, which runs each file in its own transaction.
-- Idempotent: every statement can run again on a database that already has it, and changes nothing then.
-- Objects are created as workmonitor_owner (SET ROLE below); RESET ROLE at the end.

set client_min_messages = warning;  -- "policy ... does not exist, skipping" is the expected case
set role workmonitor_owner;



-- employee_assignment_requests: A manager asks that an employee join a project; an admin decides
create table if not exists public.employee_assignment_requests (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  employee_id uuid not null references public.users(user_id) on delete cascade,
  project_id uuid not null references public.projects(id) on delete cascade,
  requested_by uuid not null references public.users(user_id) on delete cascade,
  status text not null default 'pending' check (status in ('pending', 'approved', 'rejected', 'withdrawn')),
  message text,
  response text,
  decided_at timestamptz,
  created_at timestamptz not null default now()
);
comment on table public.employee_assignment_requests is 'A manager asks that an employee join a project; an admin decides';

create index if not exists employee_assignment_requests_company_status_idx on public.employee_assignment_requests (company_id, status);

-- work_agreements: Employment or freelance agreement with its monitoring terms
create table if not exists public.work_agreements (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  employee_id uuid not null references public.users(user_id) on delete cascade,
  created_by uuid references public.users(user_id) on delete set null,
  title text not null,
  employment_type text not null default 'fulltime' check (employment_type in ('fulltime', 'parttime', 'freelancer', 'contractor')),
  status text not null default 'draft' check (status in ('draft', 'sent', 'signed', 'active', 'terminated', 'expired')),
  start_date date,
  end_date date,
  hourly_rate numeric(12,2),
  salary_amount numeric(12,2),
  currency text not null default 'USD',
  pay_frequency text not null default 'monthly' check (pay_frequency in ('weekly', 'biweekly', 'monthly')),
  weekly_hours_limit numeric(5,2),
  tracking_required boolean not null default true,
  screenshots_enabled boolean not null default true,
  screenshot_interval_minutes integer not null default 10,
  auto_tracking_allowed boolean not null default false,
  terms text,
  notice_period_days integer,
  employee_signed_at timestamptz,
  employee_signature text,
  employer_signed_at timestamptz,
  employer_signature text,
  terminated_at timestamptz,
  termination_reason text,
  document_key text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.work_agreements is 'Employment or freelance agreement with its monitoring terms';

create index if not exists work_agreements_employee_status_idx on public.work_agreements (employee_id, status);
create index if not exists work_agreements_company_status_idx on public.work_agreements (company_id, status);
create index if not exists work_agreements_active_end_idx on public.work_agreements (end_date) where status = 'active';

-- agreement_clauses: Numbered clauses of a work agreement
create table if not exists public.agreement_clauses (
  id uuid primary key default gen_random_uuid(),
  agreement_id uuid not null references public.work_agreements(id) on delete cascade,
  position integer not null,
  heading text not null,
  body text not null,
  required boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.agreement_clauses is 'Numbered clauses of a work agreement';

create unique index if not exists agreement_clauses_agreement_position_key on public.agreement_clauses (agreement_id, position);

-- Row level security: enabled and forced on every table; default deny until a policy allows.

alter table public.employee_assignment_requests enable row level security;
alter table public.employee_assignment_requests force row level security;
alter table public.work_agreements enable row level security;
alter table public.work_agreements force row level security;
alter table public.agreement_clauses enable row level security;
alter table public.agreement_clauses force row level security;

-- Policies (first written with auth.uid() per row; migrations 14-17 rewrite them to the
-- (select auth.uid()) form). CREATE POLICY has no IF NOT EXISTS, hence drop-then-create.

drop policy if exists employee_assignment_requests_party_select on public.employee_assignment_requests;
create policy employee_assignment_requests_party_select on public.employee_assignment_requests as permissive for select to workmonitor_app
  using ((employee_id = auth.uid()) or (requested_by = auth.uid()) or (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = employee_assignment_requests.company_id)) or (exists (select 1 from public.manager_assignments ma where ma.manager_id = auth.uid() and ma.active and ma.employee_id = employee_assignment_requests.employee_id)));
drop policy if exists employee_assignment_requests_requester_admin_write on public.employee_assignment_requests;
create policy employee_assignment_requests_requester_admin_write on public.employee_assignment_requests as permissive for all to workmonitor_app
  using ((exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = employee_assignment_requests.company_id)) or (requested_by = auth.uid()))
  with check ((exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = employee_assignment_requests.company_id)) or ((requested_by = auth.uid() and company_id = auth.company_id()) and (exists (select 1 from public.users u where u.user_id = auth.uid() and u.company_id = employee_assignment_requests.company_id)) and (status in ('pending', 'withdrawn'))));

drop policy if exists work_agreements_owner_read_admin_write on public.work_agreements;
create policy work_agreements_owner_read_admin_write on public.work_agreements as permissive for all to workmonitor_app
  using ((employee_id = auth.uid()) or (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = work_agreements.company_id)))
  with check (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = work_agreements.company_id));

drop policy if exists agreement_clauses_agreement_select on public.agreement_clauses;
create policy agreement_clauses_agreement_select on public.agreement_clauses as permissive for select to workmonitor_app
  using (agreement_id in (select p.id from public.work_agreements p));
drop policy if exists agreement_clauses_admin_all on public.agreement_clauses;
create policy agreement_clauses_admin_all on public.agreement_clauses as permissive for all to workmonitor_app
  using (exists (select 1 from public.work_agreements p join public.users u on u.company_id = p.company_id where p.id = agreement_clauses.agreement_id and u.user_id = auth.uid() and u.role = 'admin'))
  with check (exists (select 1 from public.work_agreements p join public.users u on u.company_id = p.company_id where p.id = agreement_clauses.agreement_id and u.user_id = auth.uid() and u.role = 'admin'));

-- The runtime role gets exactly the commands its policies can allow.

revoke all on public.employee_assignment_requests from workmonitor_app, public;
grant select, insert, update, delete on public.employee_assignment_requests to workmonitor_app;
revoke all on public.work_agreements from workmonitor_app, public;
grant select, insert, update on public.work_agreements to workmonitor_app;
revoke all on public.agreement_clauses from workmonitor_app, public;
grant select, insert, update, delete on public.agreement_clauses to workmonitor_app;

reset role;
reset client_min_messages;
