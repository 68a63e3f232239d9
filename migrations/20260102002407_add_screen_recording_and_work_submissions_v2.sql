-- Migration 04 of 18: 20260102002407_add_screen_recording_and_work_submissions_v2
-- Screen recordings and work submissions (2 tables).
--
-- Apply as a superuser (or as workmonitor_owner once the roles exist), in order, e.g.
--   psql -v ON_ERROR_STOP=1 -f 20260102002407_add_screen_recording_and_work_submissions_v2.sql
-- or with `workmonitor-server migrate`, which runs each file in its own transaction.
-- Idempotent: every statement can run again on a database that already has it, and changes nothing then.
-- Objects are created as workmonitor_owner (SET ROLE below); RESET ROLE at the end.

set client_min_messages = warning;  -- "policy ... does not exist, skipping" is the expected case
set role workmonitor_owner;



-- screen_recordings: Screen recording metadata; the video is in object storage
create table if not exists public.screen_recordings (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  user_id uuid not null references public.users(user_id) on delete cascade,
  time_entry_id uuid references public.time_entries(id) on delete set null,
  started_at timestamptz not null,
  ended_at timestamptz,
  duration_ms bigint not null default 0,
  storage_key text not null,
  size_bytes bigint,
  created_at timestamptz not null default now()
);
comment on table public.screen_recordings is 'Screen recording metadata; the video is in object storage';

create index if not exists screen_recordings_user_started_idx on public.screen_recordings (user_id, started_at desc);

-- work_submissions: Deliverables an employee submits for review
create table if not exists public.work_submissions (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  user_id uuid not null references public.users(user_id) on delete cascade,
  project_id uuid references public.projects(id) on delete set null,
  task_id uuid references public.tasks(id) on delete set null,
  title text not null,
  description text,
  storage_key text,
  link_url text,
  amount numeric(12,2),
  status text not null default 'submitted' check (status in ('draft', 'submitted', 'approved', 'rejected', 'revision_requested')),
  submitted_at timestamptz not null default now(),
  reviewed_by uuid references public.users(user_id) on delete set null,
  reviewed_at timestamptz,
  review_note text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.work_submissions is 'Deliverables an employee submits for review';

create index if not exists work_submissions_user_submitted_idx on public.work_submissions (user_id, submitted_at desc);
create index if not exists work_submissions_company_status_idx on public.work_submissions (company_id, status);

-- Row level security: enabled and forced on every table; default deny until a policy allows.

alter table public.screen_recordings enable row level security;
alter table public.screen_recordings force row level security;
alter table public.work_submissions enable row level security;
alter table public.work_submissions force row level security;

-- Policies (first written with auth.uid() per row; migrations 14-17 rewrite them to the
-- (select auth.uid()) form). CREATE POLICY has no IF NOT EXISTS, hence drop-then-create.

drop policy if exists screen_recordings_team_select on public.screen_recordings;
create policy screen_recordings_team_select on public.screen_recordings as permissive for select to workmonitor_app
  using ((user_id = auth.uid()) or (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = screen_recordings.company_id)) or (exists (select 1 from public.manager_assignments ma where ma.manager_id = auth.uid() and ma.active and ma.employee_id = screen_recordings.user_id)));
drop policy if exists screen_recordings_owner_insert on public.screen_recordings;
create policy screen_recordings_owner_insert on public.screen_recordings as permissive for insert to workmonitor_app
  with check (user_id = auth.uid() and company_id = auth.company_id());
drop policy if exists screen_recordings_owner_update on public.screen_recordings;
create policy screen_recordings_owner_update on public.screen_recordings as permissive for update to workmonitor_app
  using (user_id = auth.uid())
  with check (user_id = auth.uid() and company_id = auth.company_id());
drop policy if exists screen_recordings_admin_delete on public.screen_recordings;
create policy screen_recordings_admin_delete on public.screen_recordings as permissive for delete to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = screen_recordings.company_id));

drop policy if exists work_submissions_owner_select on public.work_submissions;
create policy work_submissions_owner_select on public.work_submissions as permissive for select to workmonitor_app
  using (user_id = auth.uid());
drop policy if exists work_submissions_admin_select on public.work_submissions;
create policy work_submissions_admin_select on public.work_submissions as permissive for select to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = work_submissions.company_id));
drop policy if exists work_submissions_manager_select on public.work_submissions;
create policy work_submissions_manager_select on public.work_submissions as permissive for select to workmonitor_app
  using (exists (select 1 from public.manager_assignments ma where ma.manager_id = auth.uid() and ma.active and ma.employee_id = work_submissions.user_id));
drop policy if exists work_submissions_owner_insert on public.work_submissions;
create policy work_submissions_owner_insert on public.work_submissions as permissive for insert to workmonitor_app
  with check ((user_id = auth.uid() and company_id = auth.company_id()) and (status in ('draft', 'submitted')));
drop policy if exists work_submissions_owner_update on public.work_submissions;
create policy work_submissions_owner_update on public.work_submissions as permissive for update to workmonitor_app
  using ((user_id = auth.uid()) and (status in ('draft', 'submitted', 'revision_requested')))
  with check ((user_id = auth.uid() and company_id = auth.company_id()) and (status in ('draft', 'submitted')));
drop policy if exists work_submissions_reviewer_update on public.work_submissions;
create policy work_submissions_reviewer_update on public.work_submissions as permissive for update to workmonitor_app
  using ((exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = work_submissions.company_id)) or (exists (select 1 from public.manager_assignments ma where ma.manager_id = auth.uid() and ma.active and ma.employee_id = work_submissions.user_id)))
  with check ((exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = work_submissions.company_id)) or (exists (select 1 from public.manager_assignments ma where ma.manager_id = auth.uid() and ma.active and ma.employee_id = work_submissions.user_id)));

-- The runtime role gets exactly the commands its policies can allow.

revoke all on public.screen_recordings from workmonitor_app, public;
grant select, insert, update, delete on public.screen_recordings to workmonitor_app;
revoke all on public.work_submissions from workmonitor_app, public;
grant select, insert, update on public.work_submissions to workmonitor_app;

reset role;
reset client_min_messages;
