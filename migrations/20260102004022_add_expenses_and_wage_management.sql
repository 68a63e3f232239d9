-- Migration 05 of 18: 20260102004022_add_expenses_and_wage_management
-- Financial tracking: wages, wage change requests, expense calculations, manager expense access (4 tables).
--
-- Apply as a superuser (or as workmonitor_owner once the roles exist), in order, e.g.
--   psql -v ON_ERROR_STOP=1 -f 20260102004022_add_expenses_and_wage_management.sql
-- or with `workmonitor-server migrate`, which runs each file in its own transaction.
-- Idempotent: every statement can run again on a database that already has it, and changes nothing then.
-- Objects are created as workmonitor_owner (SET ROLE below); RESET ROLE at the end.

set client_min_messages = warning;  -- "policy ... does not exist, skipping" is the expected case
set role workmonitor_owner;



-- manager_expense_access: Grants a manager sight of an employee's expenses
create table if not exists public.manager_expense_access (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  manager_id uuid not null references public.users(user_id) on delete cascade,
  employee_id uuid not null references public.users(user_id) on delete cascade,
  granted_by uuid references public.users(user_id) on delete set null,
  expires_at timestamptz,
  created_at timestamptz not null default now()
);
comment on table public.manager_expense_access is 'Grants a manager sight of an employee''s expenses';

create unique index if not exists manager_expense_access_manager_employee_key on public.manager_expense_access (manager_id, employee_id);

-- employee_wages: Wage history per employee; effective_to null is the current wage
create table if not exists public.employee_wages (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  user_id uuid not null references public.users(user_id) on delete cascade,
  hourly_rate numeric(12,2),
  salary_amount numeric(12,2),
  currency text not null default 'USD',
  pay_type text not null default 'hourly' check (pay_type in ('hourly', 'salary', 'fixed')),
  overtime_multiplier numeric(4,2) not null default 1.5,
  effective_from date not null default current_date,
  effective_to date,
  set_by uuid references public.users(user_id) on delete set null,
  notes text,
  weekly_hours numeric(5,2),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.employee_wages is 'Wage history per employee; effective_to null is the current wage';

create index if not exists employee_wages_user_from_idx on public.employee_wages (user_id, effective_from desc);
create unique index if not exists employee_wages_current_key on public.employee_wages (user_id) where effective_to is null;

-- wage_change_requests: Proposed wage changes, reviewed by an admin
create table if not exists public.wage_change_requests (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  user_id uuid not null references public.users(user_id) on delete cascade,
  requested_by uuid not null references public.users(user_id) on delete cascade,
  current_rate numeric(12,2),
  proposed_rate numeric(12,2),
  current_salary numeric(12,2),
  proposed_salary numeric(12,2),
  currency text not null default 'USD',
  pay_type text not null default 'hourly' check (pay_type in ('hourly', 'salary', 'fixed')),
  effective_from date,
  reason text,
  status text not null default 'pending' check (status in ('pending', 'approved', 'rejected', 'cancelled')),
  reviewed_by uuid references public.users(user_id) on delete set null,
  reviewed_at timestamptz,
  review_note text,
  applied_at timestamptz,
  priority text not null default 'normal' check (priority in ('low', 'normal', 'high')),
  expires_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.wage_change_requests is 'Proposed wage changes, reviewed by an admin';

create index if not exists wage_change_requests_company_status_idx on public.wage_change_requests (company_id, status);

-- expense_calculations: Labour cost and expenses per employee, project and period
create table if not exists public.expense_calculations (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  user_id uuid not null references public.users(user_id) on delete cascade,
  project_id uuid references public.projects(id) on delete set null,
  period_start date not null,
  period_end date not null,
  hours numeric(10,2) not null default 0,
  hourly_rate numeric(12,2),
  labor_cost numeric(12,2) not null default 0,
  expenses_amount numeric(12,2) not null default 0,
  total_cost numeric(12,2) not null default 0,
  currency text not null default 'USD',
  status text not null default 'draft' check (status in ('draft', 'final')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.expense_calculations is 'Labour cost and expenses per employee, project and period';

create index if not exists expense_calculations_user_period_idx on public.expense_calculations (user_id, period_start);
create index if not exists expense_calculations_company_period_idx on public.expense_calculations (company_id, period_start);

-- Employees whose expenses the caller may see through manager_expense_access (see auth.managed_user_ids()
-- in migration 01 for why policies call a function rather than an inline subquery).
create or replace function auth.expense_user_ids() returns uuid[]
language plpgsql stable security definer set search_path = ''
as $$
declare
  result uuid[];
begin
  select coalesce(array_agg(mx.employee_id), '{}') into result
  from public.manager_expense_access mx
  where mx.manager_id = auth.uid() and (mx.expires_at is null or mx.expires_at > now());
  return result;
end
$$;

-- Row level security: enabled and forced on every table; default deny until a policy allows.

alter table public.manager_expense_access enable row level security;
alter table public.manager_expense_access force row level security;
alter table public.employee_wages enable row level security;
alter table public.employee_wages force row level security;
alter table public.wage_change_requests enable row level security;
alter table public.wage_change_requests force row level security;
alter table public.expense_calculations enable row level security;
alter table public.expense_calculations force row level security;

-- Policies (first written with auth.uid() per row; migrations 14-17 rewrite them to the
-- (select auth.uid()) form). CREATE POLICY has no IF NOT EXISTS, hence drop-then-create.

drop policy if exists manager_expense_access_manager_select on public.manager_expense_access;
create policy manager_expense_access_manager_select on public.manager_expense_access as permissive for select to workmonitor_app
  using (manager_id = auth.uid());
drop policy if exists manager_expense_access_admin_select on public.manager_expense_access;
create policy manager_expense_access_admin_select on public.manager_expense_access as permissive for select to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = manager_expense_access.company_id));
drop policy if exists manager_expense_access_admin_insert on public.manager_expense_access;
create policy manager_expense_access_admin_insert on public.manager_expense_access as permissive for insert to workmonitor_app
  with check (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = manager_expense_access.company_id));
drop policy if exists manager_expense_access_admin_delete on public.manager_expense_access;
create policy manager_expense_access_admin_delete on public.manager_expense_access as permissive for delete to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = manager_expense_access.company_id));

drop policy if exists employee_wages_owner_select on public.employee_wages;
create policy employee_wages_owner_select on public.employee_wages as permissive for select to workmonitor_app
  using (user_id = auth.uid());
drop policy if exists employee_wages_admin_select on public.employee_wages;
create policy employee_wages_admin_select on public.employee_wages as permissive for select to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = employee_wages.company_id));
drop policy if exists employee_wages_admin_insert on public.employee_wages;
create policy employee_wages_admin_insert on public.employee_wages as permissive for insert to workmonitor_app
  with check (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = employee_wages.company_id));
drop policy if exists employee_wages_admin_update on public.employee_wages;
create policy employee_wages_admin_update on public.employee_wages as permissive for update to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = employee_wages.company_id))
  with check (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = employee_wages.company_id));

drop policy if exists wage_change_requests_party_select on public.wage_change_requests;
create policy wage_change_requests_party_select on public.wage_change_requests as permissive for select to workmonitor_app
  using ((user_id = auth.uid()) or (requested_by = auth.uid()) or (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = wage_change_requests.company_id)));
drop policy if exists wage_change_requests_requester_insert on public.wage_change_requests;
create policy wage_change_requests_requester_insert on public.wage_change_requests as permissive for insert to workmonitor_app
  with check ((requested_by = auth.uid() and company_id = auth.company_id()) and ((exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = wage_change_requests.company_id)) or (exists (select 1 from public.manager_assignments ma where ma.manager_id = auth.uid() and ma.active and ma.employee_id = wage_change_requests.user_id))) and (status = 'pending'));
drop policy if exists wage_change_requests_admin_update on public.wage_change_requests;
create policy wage_change_requests_admin_update on public.wage_change_requests as permissive for update to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = wage_change_requests.company_id))
  with check (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = wage_change_requests.company_id));
drop policy if exists wage_change_requests_requester_cancel on public.wage_change_requests;
create policy wage_change_requests_requester_cancel on public.wage_change_requests as permissive for update to workmonitor_app
  using ((requested_by = auth.uid()) and (status = 'pending'))
  with check ((requested_by = auth.uid() and company_id = auth.company_id()) and (status in ('pending', 'cancelled')));

drop policy if exists expense_calculations_owner_select on public.expense_calculations;
create policy expense_calculations_owner_select on public.expense_calculations as permissive for select to workmonitor_app
  using (user_id = auth.uid());
drop policy if exists expense_calculations_admin_expense_manager_select on public.expense_calculations;
create policy expense_calculations_admin_expense_manager_select on public.expense_calculations as permissive for select to workmonitor_app
  using ((exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = expense_calculations.company_id)) or (exists (select 1 from public.manager_expense_access mx where mx.manager_id = auth.uid() and mx.employee_id = expense_calculations.user_id and (mx.expires_at is null or mx.expires_at > now()))));
drop policy if exists expense_calculations_admin_all on public.expense_calculations;
create policy expense_calculations_admin_all on public.expense_calculations as permissive for all to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = expense_calculations.company_id))
  with check (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = expense_calculations.company_id));

-- The runtime role gets exactly the commands its policies can allow.

revoke all on public.manager_expense_access from workmonitor_app, public;
grant select, insert, delete on public.manager_expense_access to workmonitor_app;
revoke all on public.employee_wages from workmonitor_app, public;
grant select, insert, update on public.employee_wages to workmonitor_app;
revoke all on public.wage_change_requests from workmonitor_app, public;
grant select, insert, update on public.wage_change_requests to workmonitor_app;
revoke all on public.expense_calculations from workmonitor_app, public;
grant select, insert, update, delete on public.expense_calculations to workmonitor_app;

reset role;
reset client_min_messages;
