-- Migration 12 of 18: 20260102012256_add_productivity_analytics
-- Analytics: activity history, productivity scores, focus time, burnout indicators, meeting insights (5 tables).
--
-- Apply as a superuser (or as workmonitor_owner once the roles exist), in order, e.g.
--   psql -v ON_ERROR_STOP=1 -f 20260102012256_add_productivity_analytics.sql
-- or with `workmonitor-server migrate`, which runs each file in its own transaction.
-- Idempotent: every statement can run again on a database that already has it, and changes nothing then.
-- Objects are created as workmonitor_owner (SET ROLE below); RESET ROLE at the end.

set client_min_messages = warning;  -- "policy ... does not exist, skipping" is the expected case
set role workmonitor_owner;



-- activity_history: Daily roll-up of activity per employee
create table if not exists public.activity_history (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  user_id uuid not null references public.users(user_id) on delete cascade,
  day date not null,
  active_ms bigint not null default 0,
  keystrokes bigint not null default 0,
  mouse_events bigint not null default 0,
  activity_percent numeric(5,2)
);
comment on table public.activity_history is 'Daily roll-up of activity per employee';

create unique index if not exists activity_history_user_day_key on public.activity_history (user_id, day);
create index if not exists activity_history_company_day_idx on public.activity_history (company_id, day);
create index if not exists activity_history_day_idx on public.activity_history (day);

-- productivity_scores: Daily productivity figures per employee
create table if not exists public.productivity_scores (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  user_id uuid not null references public.users(user_id) on delete cascade,
  day date not null,
  score numeric(5,2),
  active_ms bigint not null default 0,
  idle_ms bigint not null default 0,
  productive_ms bigint not null default 0,
  unproductive_ms bigint not null default 0,
  neutral_ms bigint not null default 0,
  keystrokes bigint not null default 0,
  mouse_events bigint not null default 0,
  focus_ms bigint not null default 0,
  meetings_ms bigint not null default 0,
  apps_used integer,
  websites_used integer,
  top_app text,
  top_website text,
  computed_at timestamptz not null default now(),
  created_at timestamptz not null default now()
);
comment on table public.productivity_scores is 'Daily productivity figures per employee';

create unique index if not exists productivity_scores_user_day_key on public.productivity_scores (user_id, day);
create index if not exists productivity_scores_company_day_idx on public.productivity_scores (company_id, day);
create index if not exists productivity_scores_day_idx on public.productivity_scores (day);

-- focus_time: Deep-work spans detected from activity
create table if not exists public.focus_time (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  user_id uuid not null references public.users(user_id) on delete cascade,
  day date not null,
  started_at timestamptz not null,
  ended_at timestamptz not null,
  duration_ms bigint not null default 0,
  app_name text,
  interruptions integer not null default 0,
  quality_score numeric(5,2),
  source text not null default 'activity',
  created_at timestamptz not null default now()
);
comment on table public.focus_time is 'Deep-work spans detected from activity';

create index if not exists focus_time_user_started_idx on public.focus_time (user_id, started_at desc);
create index if not exists focus_time_company_day_idx on public.focus_time (company_id, day);

-- burnout_indicators: Weekly burnout risk per employee
create table if not exists public.burnout_indicators (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  user_id uuid not null references public.users(user_id) on delete cascade,
  week_start date not null,
  risk_level text not null default 'low' check (risk_level in ('low', 'moderate', 'high', 'critical')),
  risk_score numeric(5,2),
  overtime_ms bigint not null default 0,
  late_night_ms bigint not null default 0,
  weekend_ms bigint not null default 0,
  avg_daily_ms bigint not null default 0,
  breaks_taken integer not null default 0,
  consecutive_long_days integer not null default 0,
  trend text,
  factors jsonb not null default '{}',
  computed_at timestamptz not null default now(),
  created_at timestamptz not null default now()
);
comment on table public.burnout_indicators is 'Weekly burnout risk per employee';

create unique index if not exists burnout_indicators_user_week_key on public.burnout_indicators (user_id, week_start);
create index if not exists burnout_indicators_company_week_idx on public.burnout_indicators (company_id, week_start);
create index if not exists burnout_indicators_high_risk_idx on public.burnout_indicators (company_id, risk_level) where risk_level in ('high', 'critical');
create index if not exists burnout_indicators_computed_idx on public.burnout_indicators (computed_at);

-- meeting_insights: Meetings detected from apps or calendars
create table if not exists public.meeting_insights (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  user_id uuid not null references public.users(user_id) on delete cascade,
  day date not null,
  started_at timestamptz not null,
  ended_at timestamptz,
  duration_ms bigint not null default 0,
  app_name text,
  title text,
  source text not null default 'app_detect' check (source in ('app_detect', 'calendar')),
  participants integer,
  is_recurring boolean,
  external_event_id text,
  overlaps_focus boolean not null default false,
  notes text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.meeting_insights is 'Meetings detected from apps or calendars';

create index if not exists meeting_insights_user_started_idx on public.meeting_insights (user_id, started_at desc);
create index if not exists meeting_insights_company_day_idx on public.meeting_insights (company_id, day);

-- Row level security: enabled and forced on every table; default deny until a policy allows.

alter table public.activity_history enable row level security;
alter table public.activity_history force row level security;
alter table public.productivity_scores enable row level security;
alter table public.productivity_scores force row level security;
alter table public.focus_time enable row level security;
alter table public.focus_time force row level security;
alter table public.burnout_indicators enable row level security;
alter table public.burnout_indicators force row level security;
alter table public.meeting_insights enable row level security;
alter table public.meeting_insights force row level security;

-- Policies (first written with auth.uid() per row; migrations 14-17 rewrite them to the
-- (select auth.uid()) form). CREATE POLICY has no IF NOT EXISTS, hence drop-then-create.

drop policy if exists activity_history_team_select on public.activity_history;
create policy activity_history_team_select on public.activity_history as permissive for select to workmonitor_app
  using ((user_id = auth.uid()) or (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = activity_history.company_id)) or (exists (select 1 from public.manager_assignments ma where ma.manager_id = auth.uid() and ma.active and ma.employee_id = activity_history.user_id)));
drop policy if exists activity_history_system_insert on public.activity_history;
create policy activity_history_system_insert on public.activity_history as permissive for insert to workmonitor_app
  with check (auth.role() = 'service');
drop policy if exists activity_history_system_update on public.activity_history;
create policy activity_history_system_update on public.activity_history as permissive for update to workmonitor_app
  using (auth.role() = 'service')
  with check (auth.role() = 'service');
drop policy if exists activity_history_system_delete on public.activity_history;
create policy activity_history_system_delete on public.activity_history as permissive for delete to workmonitor_app
  using (auth.role() = 'service');

drop policy if exists productivity_scores_team_select on public.productivity_scores;
create policy productivity_scores_team_select on public.productivity_scores as permissive for select to workmonitor_app
  using ((user_id = auth.uid()) or (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = productivity_scores.company_id)) or (exists (select 1 from public.manager_assignments ma where ma.manager_id = auth.uid() and ma.active and ma.employee_id = productivity_scores.user_id)));
drop policy if exists productivity_scores_system_all on public.productivity_scores;
create policy productivity_scores_system_all on public.productivity_scores as permissive for all to workmonitor_app
  using (auth.role() = 'service')
  with check (auth.role() = 'service');

drop policy if exists focus_time_team_select on public.focus_time;
create policy focus_time_team_select on public.focus_time as permissive for select to workmonitor_app
  using ((user_id = auth.uid()) or (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = focus_time.company_id)) or (exists (select 1 from public.manager_assignments ma where ma.manager_id = auth.uid() and ma.active and ma.employee_id = focus_time.user_id)));
drop policy if exists focus_time_system_all on public.focus_time;
create policy focus_time_system_all on public.focus_time as permissive for all to workmonitor_app
  using (auth.role() = 'service')
  with check (auth.role() = 'service');

drop policy if exists burnout_indicators_team_select on public.burnout_indicators;
create policy burnout_indicators_team_select on public.burnout_indicators as permissive for select to workmonitor_app
  using ((user_id = auth.uid()) or (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = burnout_indicators.company_id)) or (exists (select 1 from public.manager_assignments ma where ma.manager_id = auth.uid() and ma.active and ma.employee_id = burnout_indicators.user_id)));
drop policy if exists burnout_indicators_system_all on public.burnout_indicators;
create policy burnout_indicators_system_all on public.burnout_indicators as permissive for all to workmonitor_app
  using (auth.role() = 'service')
  with check (auth.role() = 'service');

drop policy if exists meeting_insights_team_select on public.meeting_insights;
create policy meeting_insights_team_select on public.meeting_insights as permissive for select to workmonitor_app
  using ((user_id = auth.uid()) or (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = meeting_insights.company_id)) or (exists (select 1 from public.manager_assignments ma where ma.manager_id = auth.uid() and ma.active and ma.employee_id = meeting_insights.user_id)));
drop policy if exists meeting_insights_system_all on public.meeting_insights;
create policy meeting_insights_system_all on public.meeting_insights as permissive for all to workmonitor_app
  using (auth.role() = 'service')
  with check (auth.role() = 'service');

-- The runtime role gets exactly the commands its policies can allow.

revoke all on public.activity_history from workmonitor_app, public;
grant select, insert, update, delete on public.activity_history to workmonitor_app;
revoke all on public.productivity_scores from workmonitor_app, public;
grant select, insert, update, delete on public.productivity_scores to workmonitor_app;
revoke all on public.focus_time from workmonitor_app, public;
grant select, insert, update, delete on public.focus_time to workmonitor_app;
revoke all on public.burnout_indicators from workmonitor_app, public;
grant select, insert, update, delete on public.burnout_indicators to workmonitor_app;
revoke all on public.meeting_insights from workmonitor_app, public;
grant select, insert, update, delete on public.meeting_insights to workmonitor_app;

reset role;
reset client_min_messages;
