-- Migration 08 of 18: 20260102012124_add_app_website_monitoring
-- App and website monitoring: usage spans, categories, block lists (6 tables).
--
-- Apply as a superuser (or as workmonitor_owner once the roles exist), in order, e.g.
--   psql -v ON_ERROR_STOP=1 -f 20260102012124_add_app_website_monitoring.sql
-- or with `workmonitor-server migrate`, which runs each file in its own transaction.
-- Idempotent: every statement can run again on a database that already has it, and changes nothing then.
-- Objects are created as workmonitor_owner (SET ROLE below); RESET ROLE at the end.

set client_min_messages = warning;  -- "policy ... does not exist, skipping" is the expected case
set role workmonitor_owner;



-- app_usage: Foreground application spans (agent kind app_usage)
create table if not exists public.app_usage (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  user_id uuid not null references public.users(user_id) on delete cascade,
  started_at timestamptz not null,
  ended_at timestamptz,
  duration_ms bigint not null default 0,
  app_name text not null,
  exe_path text,
  window_title text,
  details jsonb not null default '{}',
  created_at timestamptz not null default now()
);
comment on table public.app_usage is 'Foreground application spans (agent kind app_usage)';

create index if not exists app_usage_user_started_idx on public.app_usage (user_id, started_at desc);
create index if not exists app_usage_company_started_idx on public.app_usage (company_id, started_at);

-- website_usage: Browser tab spans from the extension (agent kind website_usage)
create table if not exists public.website_usage (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  user_id uuid not null references public.users(user_id) on delete cascade,
  started_at timestamptz not null,
  ended_at timestamptz,
  duration_ms bigint not null default 0,
  domain text not null,
  url text,
  title text,
  browser text,
  details jsonb not null default '{}',
  created_at timestamptz not null default now()
);
comment on table public.website_usage is 'Browser tab spans from the extension (agent kind website_usage)';

create index if not exists website_usage_user_started_idx on public.website_usage (user_id, started_at desc);
create index if not exists website_usage_company_started_idx on public.website_usage (company_id, started_at);

-- app_categories: Company rule classifying a app_name as productive, neutral or unproductive
create table if not exists public.app_categories (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  app_name text not null,
  category text,
  productivity text not null default 'neutral' check (productivity in ('productive', 'neutral', 'unproductive')),
  created_by uuid references public.users(user_id) on delete set null,
  notes text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.app_categories is 'Company rule classifying a app_name as productive, neutral or unproductive';

create unique index if not exists app_categories_company_app_name_key on public.app_categories (company_id, app_name);

-- website_categories: Company rule classifying a domain as productive, neutral or unproductive
create table if not exists public.website_categories (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  domain text not null,
  category text,
  productivity text not null default 'neutral' check (productivity in ('productive', 'neutral', 'unproductive')),
  created_by uuid references public.users(user_id) on delete set null,
  notes text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.website_categories is 'Company rule classifying a domain as productive, neutral or unproductive';

create unique index if not exists website_categories_company_domain_key on public.website_categories (company_id, domain);

-- blocked_apps: Company rule blocking a app_name on the agent
create table if not exists public.blocked_apps (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  app_name text not null,
  reason text,
  active boolean not null default true,
  created_by uuid references public.users(user_id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.blocked_apps is 'Company rule blocking a app_name on the agent';

create unique index if not exists blocked_apps_company_app_name_key on public.blocked_apps (company_id, app_name);

-- blocked_websites: Company rule blocking a domain on the agent
create table if not exists public.blocked_websites (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  domain text not null,
  reason text,
  active boolean not null default true,
  created_by uuid references public.users(user_id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.blocked_websites is 'Company rule blocking a domain on the agent';

create unique index if not exists blocked_websites_company_domain_key on public.blocked_websites (company_id, domain);

-- Row level security: enabled and forced on every table; default deny until a policy allows.

alter table public.app_usage enable row level security;
alter table public.app_usage force row level security;
alter table public.website_usage enable row level security;
alter table public.website_usage force row level security;
alter table public.app_categories enable row level security;
alter table public.app_categories force row level security;
alter table public.website_categories enable row level security;
alter table public.website_categories force row level security;
alter table public.blocked_apps enable row level security;
alter table public.blocked_apps force row level security;
alter table public.blocked_websites enable row level security;
alter table public.blocked_websites force row level security;

-- Policies (first written with auth.uid() per row; migrations 14-17 rewrite them to the
-- (select auth.uid()) form). CREATE POLICY has no IF NOT EXISTS, hence drop-then-create.

drop policy if exists app_usage_owner_all on public.app_usage;
create policy app_usage_owner_all on public.app_usage as permissive for all to workmonitor_app
  using (user_id = auth.uid())
  with check (user_id = auth.uid() and company_id = auth.company_id());
drop policy if exists app_usage_admin_manager_select on public.app_usage;
create policy app_usage_admin_manager_select on public.app_usage as permissive for select to workmonitor_app
  using ((exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = app_usage.company_id)) or (exists (select 1 from public.manager_assignments ma where ma.manager_id = auth.uid() and ma.active and ma.employee_id = app_usage.user_id)));

drop policy if exists website_usage_owner_all on public.website_usage;
create policy website_usage_owner_all on public.website_usage as permissive for all to workmonitor_app
  using (user_id = auth.uid())
  with check (user_id = auth.uid() and company_id = auth.company_id());
drop policy if exists website_usage_admin_manager_select on public.website_usage;
create policy website_usage_admin_manager_select on public.website_usage as permissive for select to workmonitor_app
  using ((exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = website_usage.company_id)) or (exists (select 1 from public.manager_assignments ma where ma.manager_id = auth.uid() and ma.active and ma.employee_id = website_usage.user_id)));

drop policy if exists app_categories_member_select on public.app_categories;
create policy app_categories_member_select on public.app_categories as permissive for select to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.company_id = app_categories.company_id));
drop policy if exists app_categories_admin_all on public.app_categories;
create policy app_categories_admin_all on public.app_categories as permissive for all to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = app_categories.company_id))
  with check (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = app_categories.company_id));

drop policy if exists website_categories_member_select on public.website_categories;
create policy website_categories_member_select on public.website_categories as permissive for select to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.company_id = website_categories.company_id));
drop policy if exists website_categories_admin_all on public.website_categories;
create policy website_categories_admin_all on public.website_categories as permissive for all to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = website_categories.company_id))
  with check (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = website_categories.company_id));

drop policy if exists blocked_apps_member_select on public.blocked_apps;
create policy blocked_apps_member_select on public.blocked_apps as permissive for select to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.company_id = blocked_apps.company_id));
drop policy if exists blocked_apps_admin_all on public.blocked_apps;
create policy blocked_apps_admin_all on public.blocked_apps as permissive for all to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = blocked_apps.company_id))
  with check (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = blocked_apps.company_id));

drop policy if exists blocked_websites_member_select on public.blocked_websites;
create policy blocked_websites_member_select on public.blocked_websites as permissive for select to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.company_id = blocked_websites.company_id));
drop policy if exists blocked_websites_admin_all on public.blocked_websites;
create policy blocked_websites_admin_all on public.blocked_websites as permissive for all to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = blocked_websites.company_id))
  with check (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = blocked_websites.company_id));

-- The runtime role gets exactly the commands its policies can allow.

revoke all on public.app_usage from workmonitor_app, public;
grant select, insert, update on public.app_usage to workmonitor_app;
revoke all on public.website_usage from workmonitor_app, public;
grant select, insert, update on public.website_usage to workmonitor_app;
revoke all on public.app_categories from workmonitor_app, public;
grant select, insert, update, delete on public.app_categories to workmonitor_app;
revoke all on public.website_categories from workmonitor_app, public;
grant select, insert, update, delete on public.website_categories to workmonitor_app;
revoke all on public.blocked_apps from workmonitor_app, public;
grant select, insert, update, delete on public.blocked_apps to workmonitor_app;
revoke all on public.blocked_websites from workmonitor_app, public;
grant select, insert, update, delete on public.blocked_websites to workmonitor_app;

reset role;
reset client_min_messages;
