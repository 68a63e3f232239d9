-- Migration 07 of 18: 20260102012051_add_gps_and_location_tracking
-- GPS tracking: locations, geofences, field sites, routes (4 tables).
--
-- Apply as a superuser (or as workmonitor_owner once the roles exist), in order, e.g.
--   psql -v ON_ERROR_STOP=1 -f 20260102012051_add_gps_and_location_tracking.sql
-- or with `workmonitor-server migrate`, which runs each file in its own transaction.
-- Idempotent: every statement can run again on a database that already has it, and changes nothing then.
-- Objects are created as workmonitor_owner (SET ROLE below); RESET ROLE at the end.

set client_min_messages = warning;  -- "policy ... does not exist, skipping" is the expected case
set role workmonitor_owner;



-- gps_locations: GPS fixes of field workers
create table if not exists public.gps_locations (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  user_id uuid not null references public.users(user_id) on delete cascade,
  recorded_at timestamptz not null,
  latitude double precision not null check (latitude between -90 and 90),
  longitude double precision not null check (longitude between -180 and 180),
  accuracy_m real,
  altitude_m real,
  speed_mps real,
  heading_deg real,
  battery_level smallint,
  source text not null default 'gps' check (source in ('gps', 'network', 'manual')),
  is_mock boolean not null default false,
  activity text,
  created_at timestamptz not null default now()
);
comment on table public.gps_locations is 'GPS fixes of field workers';

create index if not exists gps_locations_user_recorded_idx on public.gps_locations (user_id, recorded_at desc);
create index if not exists gps_locations_company_recorded_idx on public.gps_locations (company_id, recorded_at);

-- geofences: Areas that clock people in or out
create table if not exists public.geofences (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  name text not null,
  center_lat double precision,
  center_lon double precision,
  radius_m real,
  polygon jsonb,
  address text,
  project_id uuid references public.projects(id) on delete set null,
  active boolean not null default true,
  auto_clock boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.geofences is 'Areas that clock people in or out';

-- field_sites: Customer sites field workers visit
create table if not exists public.field_sites (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  name text not null,
  address text,
  latitude double precision,
  longitude double precision,
  radius_m real,
  contact_name text,
  contact_phone text,
  notes text,
  active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.field_sites is 'Customer sites field workers visit';

-- routes: Travel routes reconstructed from GPS fixes
create table if not exists public.routes (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  user_id uuid not null references public.users(user_id) on delete cascade,
  started_at timestamptz not null,
  ended_at timestamptz,
  distance_m real,
  duration_ms bigint not null default 0,
  start_lat double precision,
  start_lon double precision,
  end_lat double precision,
  end_lon double precision,
  path jsonb not null default '[]',
  created_at timestamptz not null default now()
);
comment on table public.routes is 'Travel routes reconstructed from GPS fixes';

create index if not exists routes_user_started_idx on public.routes (user_id, started_at desc);
create index if not exists routes_company_started_idx on public.routes (company_id, started_at);

-- Row level security: enabled and forced on every table; default deny until a policy allows.

alter table public.gps_locations enable row level security;
alter table public.gps_locations force row level security;
alter table public.geofences enable row level security;
alter table public.geofences force row level security;
alter table public.field_sites enable row level security;
alter table public.field_sites force row level security;
alter table public.routes enable row level security;
alter table public.routes force row level security;

-- Policies (first written with auth.uid() per row; migrations 14-17 rewrite them to the
-- (select auth.uid()) form). CREATE POLICY has no IF NOT EXISTS, hence drop-then-create.

drop policy if exists gps_locations_team_select on public.gps_locations;
create policy gps_locations_team_select on public.gps_locations as permissive for select to workmonitor_app
  using ((user_id = auth.uid()) or (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = gps_locations.company_id)) or (exists (select 1 from public.manager_assignments ma where ma.manager_id = auth.uid() and ma.active and ma.employee_id = gps_locations.user_id)));
drop policy if exists gps_locations_owner_insert on public.gps_locations;
create policy gps_locations_owner_insert on public.gps_locations as permissive for insert to workmonitor_app
  with check (user_id = auth.uid() and company_id = auth.company_id());

drop policy if exists geofences_member_select on public.geofences;
create policy geofences_member_select on public.geofences as permissive for select to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.company_id = geofences.company_id));
drop policy if exists geofences_admin_all on public.geofences;
create policy geofences_admin_all on public.geofences as permissive for all to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = geofences.company_id))
  with check (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = geofences.company_id));

drop policy if exists field_sites_member_select on public.field_sites;
create policy field_sites_member_select on public.field_sites as permissive for select to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.company_id = field_sites.company_id));
drop policy if exists field_sites_admin_all on public.field_sites;
create policy field_sites_admin_all on public.field_sites as permissive for all to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = field_sites.company_id))
  with check (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = field_sites.company_id));

drop policy if exists routes_team_select on public.routes;
create policy routes_team_select on public.routes as permissive for select to workmonitor_app
  using ((user_id = auth.uid()) or (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = routes.company_id)) or (exists (select 1 from public.manager_assignments ma where ma.manager_id = auth.uid() and ma.active and ma.employee_id = routes.user_id)));
drop policy if exists routes_owner_system_insert on public.routes;
create policy routes_owner_system_insert on public.routes as permissive for insert to workmonitor_app
  with check ((user_id = auth.uid() and company_id = auth.company_id()) or (auth.role() = 'service'));

-- The runtime role gets exactly the commands its policies can allow.

revoke all on public.gps_locations from workmonitor_app, public;
grant select, insert on public.gps_locations to workmonitor_app;
revoke all on public.geofences from workmonitor_app, public;
grant select, insert, update, delete on public.geofences to workmonitor_app;
revoke all on public.field_sites from workmonitor_app, public;
grant select, insert, update, delete on public.field_sites to workmonitor_app;
revoke all on public.routes from workmonitor_app, public;
grant select, insert on public.routes to workmonitor_app;

reset role;
reset client_min_messages;
