-- Migration 06 of 18: 20260102005207_add_payout_and_escrow_system
-- Payment system: escrow, recurring schedules, payouts, payout approvals, disputes (5 tables).
--
-- Apply as a superuser (or as workmonitor_owner once the roles exist), in order, e.g.
--   psql -v ON_ERROR_STOP=1 -f 20260102005207_add_payout_and_escrow_system.sql
-- or with `workmonitor-server migrate`, which runs each file in its own transaction.
-- Idempotent: every statement can run again on a database that already has it, and changes nothing then.
-- Objects are created as workmonitor_owner (SET ROLE below); RESET ROLE at the end.

set client_min_messages = warning;  -- "policy ... does not exist, skipping" is the expected case
set role workmonitor_owner;



-- escrow_accounts: Money held for a freelancer until work is accepted
create table if not exists public.escrow_accounts (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  project_id uuid references public.projects(id) on delete set null,
  agreement_id uuid references public.work_agreements(id) on delete set null,
  user_id uuid not null references public.users(user_id) on delete cascade,
  funded_by uuid references public.users(user_id) on delete set null,
  currency text not null default 'USD',
  target_amount numeric(12,2) not null default 0,
  funded_amount numeric(12,2) not null default 0,
  released_amount numeric(12,2) not null default 0,
  refunded_amount numeric(12,2) not null default 0,
  status text not null default 'pending' check (status in ('pending', 'funded', 'partially_released', 'released', 'refunded', 'disputed', 'closed')),
  provider text,
  provider_account_id text,
  funding_due date,
  release_conditions jsonb not null default '{}',
  auto_release boolean not null default false,
  auto_release_days integer,
  milestone_name text,
  description text,
  funded_at timestamptz,
  released_at timestamptz,
  refunded_at timestamptz,
  closed_at timestamptz,
  release_approved_by uuid references public.users(user_id) on delete set null,
  bank_account_id uuid references public.bank_accounts(id) on delete set null,
  metadata jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.escrow_accounts is 'Money held for a freelancer until work is accepted';

create index if not exists escrow_accounts_company_status_idx on public.escrow_accounts (company_id, status);
create unique index if not exists escrow_accounts_provider_key on public.escrow_accounts (provider, provider_account_id);
create index if not exists escrow_accounts_funding_due_idx on public.escrow_accounts (funding_due) where status = 'pending';
create index if not exists escrow_accounts_auto_release_idx on public.escrow_accounts (funded_at) where status = 'funded' and auto_release;
create index if not exists escrow_accounts_created_idx on public.escrow_accounts (created_at);

-- recurring_payment_schedules: Recurring payments to an employee or freelancer
create table if not exists public.recurring_payment_schedules (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  user_id uuid not null references public.users(user_id) on delete cascade,
  bank_account_id uuid references public.bank_accounts(id) on delete set null,
  agreement_id uuid references public.work_agreements(id) on delete set null,
  project_id uuid references public.projects(id) on delete set null,
  escrow_account_id uuid references public.escrow_accounts(id) on delete set null,
  created_by uuid references public.users(user_id) on delete set null,
  approved_by uuid references public.users(user_id) on delete set null,
  amount numeric(12,2) not null check (amount >= 0),
  currency text not null default 'USD',
  frequency text not null default 'monthly' check (frequency in ('weekly', 'biweekly', 'monthly', 'quarterly')),
  interval_count integer not null default 1,
  day_of_month smallint,
  day_of_week smallint,
  start_date date not null default current_date,
  end_date date,
  next_run_on date,
  last_run_on date,
  status text not null default 'active' check (status in ('active', 'paused', 'ended')),
  max_occurrences integer,
  occurrences integer not null default 0,
  description text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.recurring_payment_schedules is 'Recurring payments to an employee or freelancer';

create index if not exists recurring_payment_schedules_company_status_idx on public.recurring_payment_schedules (company_id, status);
create index if not exists recurring_payment_schedules_next_run_idx on public.recurring_payment_schedules (next_run_on) where status = 'active';
create index if not exists recurring_payment_schedules_end_date_idx on public.recurring_payment_schedules (end_date);

-- payouts: Money paid to a person: from payroll, a schedule, an escrow or a submission
create table if not exists public.payouts (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  user_id uuid not null references public.users(user_id) on delete cascade,
  bank_account_id uuid references public.bank_accounts(id) on delete set null,
  payroll_id uuid references public.payroll(id) on delete set null,
  escrow_account_id uuid references public.escrow_accounts(id) on delete set null,
  schedule_id uuid references public.recurring_payment_schedules(id) on delete set null,
  work_submission_id uuid references public.work_submissions(id) on delete set null,
  amount numeric(12,2) not null check (amount >= 0),
  currency text not null default 'USD',
  fee_amount numeric(12,2) not null default 0,
  net_amount numeric(12,2),
  status text not null default 'pending' check (status in ('pending', 'approved', 'processing', 'paid', 'failed', 'cancelled')),
  method text not null default 'bank_transfer' check (method in ('bank_transfer', 'paypal', 'wise', 'manual')),
  provider text,
  provider_payout_id text,
  requested_by uuid references public.users(user_id) on delete set null,
  approved_by uuid references public.users(user_id) on delete set null,
  approved_at timestamptz,
  scheduled_for date,
  processed_at timestamptz,
  paid_at timestamptz,
  failed_at timestamptz,
  failure_reason text,
  reference text,
  description text,
  metadata jsonb not null default '{}',
  period_start date,
  period_end date,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.payouts is 'Money paid to a person: from payroll, a schedule, an escrow or a submission';

create index if not exists payouts_user_created_idx on public.payouts (user_id, created_at desc);
create index if not exists payouts_company_status_idx on public.payouts (company_id, status);
create unique index if not exists payouts_provider_key on public.payouts (provider, provider_payout_id);
create index if not exists payouts_due_idx on public.payouts (scheduled_for) where status = 'approved';

-- payout_approvals: One approval step of a payout (multi-level approval)
create table if not exists public.payout_approvals (
  id uuid primary key default gen_random_uuid(),
  payout_id uuid not null references public.payouts(id) on delete cascade,
  approver_id uuid not null references public.users(user_id) on delete cascade,
  level smallint not null default 1,
  decision text not null default 'approved' check (decision in ('approved', 'rejected')),
  comment text,
  ip_address inet,
  decided_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.payout_approvals is 'One approval step of a payout (multi-level approval)';

create unique index if not exists payout_approvals_payout_level_key on public.payout_approvals (payout_id, level);

-- payment_disputes: Disputes about a payout or an escrow release
create table if not exists public.payment_disputes (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  payout_id uuid references public.payouts(id) on delete set null,
  escrow_account_id uuid references public.escrow_accounts(id) on delete set null,
  raised_by uuid not null references public.users(user_id) on delete cascade,
  against_user_id uuid references public.users(user_id) on delete set null,
  assigned_to uuid references public.users(user_id) on delete set null,
  reason text not null default 'other' check (reason in ('not_received', 'wrong_amount', 'work_not_accepted', 'unauthorised', 'other')),
  description text,
  amount numeric(12,2),
  currency text not null default 'USD',
  status text not null default 'open' check (status in ('open', 'under_review', 'resolved', 'rejected', 'escalated', 'withdrawn')),
  resolution text,
  resolved_by uuid references public.users(user_id) on delete set null,
  resolved_at timestamptz,
  evidence jsonb not null default '[]',
  priority text not null default 'normal' check (priority in ('low', 'normal', 'high')),
  due_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.payment_disputes is 'Disputes about a payout or an escrow release';

create index if not exists payment_disputes_company_status_idx on public.payment_disputes (company_id, status);
create index if not exists payment_disputes_open_due_idx on public.payment_disputes (due_at) where status = 'open';

-- Row level security: enabled and forced on every table; default deny until a policy allows.

alter table public.escrow_accounts enable row level security;
alter table public.escrow_accounts force row level security;
alter table public.recurring_payment_schedules enable row level security;
alter table public.recurring_payment_schedules force row level security;
alter table public.payouts enable row level security;
alter table public.payouts force row level security;
alter table public.payout_approvals enable row level security;
alter table public.payout_approvals force row level security;
alter table public.payment_disputes enable row level security;
alter table public.payment_disputes force row level security;

-- Policies (first written with auth.uid() per row; migrations 14-17 rewrite them to the
-- (select auth.uid()) form). CREATE POLICY has no IF NOT EXISTS, hence drop-then-create.

drop policy if exists escrow_accounts_payee_select on public.escrow_accounts;
create policy escrow_accounts_payee_select on public.escrow_accounts as permissive for select to workmonitor_app
  using (user_id = auth.uid());
drop policy if exists escrow_accounts_admin_select on public.escrow_accounts;
create policy escrow_accounts_admin_select on public.escrow_accounts as permissive for select to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = escrow_accounts.company_id));
drop policy if exists escrow_accounts_admin_insert on public.escrow_accounts;
create policy escrow_accounts_admin_insert on public.escrow_accounts as permissive for insert to workmonitor_app
  with check (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = escrow_accounts.company_id));
drop policy if exists escrow_accounts_admin_update on public.escrow_accounts;
create policy escrow_accounts_admin_update on public.escrow_accounts as permissive for update to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = escrow_accounts.company_id))
  with check (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = escrow_accounts.company_id));

drop policy if exists recurring_payment_schedules_payee_admin_select on public.recurring_payment_schedules;
create policy recurring_payment_schedules_payee_admin_select on public.recurring_payment_schedules as permissive for select to workmonitor_app
  using ((user_id = auth.uid()) or (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = recurring_payment_schedules.company_id)));
drop policy if exists recurring_payment_schedules_admin_all on public.recurring_payment_schedules;
create policy recurring_payment_schedules_admin_all on public.recurring_payment_schedules as permissive for all to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = recurring_payment_schedules.company_id))
  with check (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = recurring_payment_schedules.company_id));

drop policy if exists payouts_payee_admin_select on public.payouts;
create policy payouts_payee_admin_select on public.payouts as permissive for select to workmonitor_app
  using ((user_id = auth.uid()) or (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = payouts.company_id)));
drop policy if exists payouts_admin_insert on public.payouts;
create policy payouts_admin_insert on public.payouts as permissive for insert to workmonitor_app
  with check (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = payouts.company_id));
drop policy if exists payouts_payee_request_insert on public.payouts;
create policy payouts_payee_request_insert on public.payouts as permissive for insert to workmonitor_app
  with check ((user_id = auth.uid() and company_id = auth.company_id()) and (requested_by = auth.uid() and company_id = auth.company_id()) and (exists (select 1 from public.users u where u.user_id = auth.uid() and u.company_id = payouts.company_id)) and (status = 'pending'));
drop policy if exists payouts_admin_update on public.payouts;
create policy payouts_admin_update on public.payouts as permissive for update to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = payouts.company_id))
  with check (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = payouts.company_id));

drop policy if exists payout_approvals_payout_select on public.payout_approvals;
create policy payout_approvals_payout_select on public.payout_approvals as permissive for select to workmonitor_app
  using (payout_id in (select p.id from public.payouts p));
drop policy if exists payout_approvals_admin_insert on public.payout_approvals;
create policy payout_approvals_admin_insert on public.payout_approvals as permissive for insert to workmonitor_app
  with check ((approver_id = auth.uid()) and (exists (select 1 from public.payouts p join public.users u on u.company_id = p.company_id where p.id = payout_approvals.payout_id and u.user_id = auth.uid() and u.role = 'admin')));

drop policy if exists payment_disputes_party_select on public.payment_disputes;
create policy payment_disputes_party_select on public.payment_disputes as permissive for select to workmonitor_app
  using ((raised_by = auth.uid()) or (against_user_id = auth.uid()) or (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = payment_disputes.company_id)));
drop policy if exists payment_disputes_raiser_insert on public.payment_disputes;
create policy payment_disputes_raiser_insert on public.payment_disputes as permissive for insert to workmonitor_app
  with check ((raised_by = auth.uid() and company_id = auth.company_id()) and (exists (select 1 from public.users u where u.user_id = auth.uid() and u.company_id = payment_disputes.company_id)) and (status = 'open'));
drop policy if exists payment_disputes_admin_update on public.payment_disputes;
create policy payment_disputes_admin_update on public.payment_disputes as permissive for update to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = payment_disputes.company_id))
  with check (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = payment_disputes.company_id));
drop policy if exists payment_disputes_raiser_withdraw on public.payment_disputes;
create policy payment_disputes_raiser_withdraw on public.payment_disputes as permissive for update to workmonitor_app
  using ((raised_by = auth.uid()) and (status = 'open'))
  with check ((raised_by = auth.uid() and company_id = auth.company_id()) and (status in ('open', 'withdrawn')));

-- The runtime role gets exactly the commands its policies can allow.

revoke all on public.escrow_accounts from workmonitor_app, public;
grant select, insert, update on public.escrow_accounts to workmonitor_app;
revoke all on public.recurring_payment_schedules from workmonitor_app, public;
grant select, insert, update, delete on public.recurring_payment_schedules to workmonitor_app;
revoke all on public.payouts from workmonitor_app, public;
grant select, insert, update on public.payouts to workmonitor_app;
revoke all on public.payout_approvals from workmonitor_app, public;
grant select, insert on public.payout_approvals to workmonitor_app;
revoke all on public.payment_disputes from workmonitor_app, public;
grant select, insert, update on public.payment_disputes to workmonitor_app;

reset role;
reset client_min_messages;
