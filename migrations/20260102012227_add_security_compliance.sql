-- Migration 11 of 18: 20260102012227_add_security_compliance
-- Security alerts, DLP incidents, USB events, audit logs (4 tables).
--
-- Apply as a superuser (or as workmonitor_owner once the roles exist), in order, e.g.
--   psql -v ON_ERROR_STOP=1 -f 20260102012227_add_security_compliance.sql
-- or with `workmonitor-server migrate`, which runs each file in its own transaction.
-- Idempotent: every statement can run again on a database that already has it, and changes nothing then.
-- Objects are created as workmonitor_owner (SET ROLE below); RESET ROLE at the end.

set client_min_messages = warning;  -- "policy ... does not exist, skipping" is the expected case
set role workmonitor_owner;



-- security_alerts: Security alerts raised by the server or an admin
create table if not exists public.security_alerts (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  user_id uuid references public.users(user_id) on delete set null,
  kind text not null,
  severity text not null default 'medium' check (severity in ('low', 'medium', 'high', 'critical')),
  title text not null,
  description text,
  details jsonb not null default '{}',
  status text not null default 'open' check (status in ('open', 'acknowledged', 'resolved', 'dismissed')),
  acknowledged_by uuid references public.users(user_id) on delete set null,
  acknowledged_at timestamptz,
  resolved_at timestamptz,
  source text not null default 'server',
  created_at timestamptz not null default now()
);
comment on table public.security_alerts is 'Security alerts raised by the server or an admin';

create index if not exists security_alerts_company_status_idx on public.security_alerts (company_id, status);
create index if not exists security_alerts_open_severity_idx on public.security_alerts (severity) where status = 'open';
create index if not exists security_alerts_created_brin on public.security_alerts using brin (created_at);

-- dlp_incidents: Data-loss-prevention incidents detected on the device (agent kind incident)
create table if not exists public.dlp_incidents (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  user_id uuid not null references public.users(user_id) on delete cascade,
  detected_at timestamptz not null,
  kind text not null default 'other' check (kind in ('usb_copy', 'upload', 'clipboard', 'print', 'blocked_app', 'blocked_site', 'other')),
  severity text not null default 'medium' check (severity in ('low', 'medium', 'high', 'critical')),
  resource text,
  action_taken text not null default 'logged' check (action_taken in ('logged', 'warned', 'blocked')),
  details jsonb not null default '{}',
  status text not null default 'open' check (status in ('open', 'reviewed', 'dismissed')),
  reviewed_at timestamptz,
  note text,
  created_at timestamptz not null default now()
);
comment on table public.dlp_incidents is 'Data-loss-prevention incidents detected on the device (agent kind incident)';

create index if not exists dlp_incidents_user_detected_idx on public.dlp_incidents (user_id, detected_at desc);
create index if not exists dlp_incidents_company_detected_idx on public.dlp_incidents (company_id, detected_at);

-- usb_events: USB device connect/disconnect events (agent kind usb_event)
create table if not exists public.usb_events (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  user_id uuid not null references public.users(user_id) on delete cascade,
  occurred_at timestamptz not null,
  action text not null default 'connected' check (action in ('connected', 'disconnected', 'blocked')),
  vendor_id text,
  product_id text,
  serial text,
  device_name text,
  is_storage boolean not null default false,
  created_at timestamptz not null default now()
);
comment on table public.usb_events is 'USB device connect/disconnect events (agent kind usb_event)';

create index if not exists usb_events_user_occurred_idx on public.usb_events (user_id, occurred_at desc);
create index if not exists usb_events_company_occurred_idx on public.usb_events (company_id, occurred_at);

-- audit_logs: Who changed what, written by the server under the acting user's claim
create table if not exists public.audit_logs (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references public.companies(id) on delete cascade,
  actor_id uuid references public.users(user_id) on delete set null,
  action text not null,
  entity_type text not null,
  entity_id uuid,
  old_values jsonb,
  new_values jsonb,
  ip_address inet,
  user_agent text,
  request_id text,
  severity text not null default 'info' check (severity in ('info', 'warning', 'critical')),
  created_at timestamptz not null default now()
);
comment on table public.audit_logs is 'Who changed what, written by the server under the acting user''s claim';

create index if not exists audit_logs_company_created_idx on public.audit_logs (company_id, created_at desc);
create index if not exists audit_logs_entity_idx on public.audit_logs (entity_type, entity_id);

-- Row level security: enabled and forced on every table; default deny until a policy allows.

alter table public.security_alerts enable row level security;
alter table public.security_alerts force row level security;
alter table public.dlp_incidents enable row level security;
alter table public.dlp_incidents force row level security;
alter table public.usb_events enable row level security;
alter table public.usb_events force row level security;
alter table public.audit_logs enable row level security;
alter table public.audit_logs force row level security;

-- Policies (first written with auth.uid() per row; migrations 14-17 rewrite them to the
-- (select auth.uid()) form). CREATE POLICY has no IF NOT EXISTS, hence drop-then-create.

drop policy if exists security_alerts_admin_all on public.security_alerts;
create policy security_alerts_admin_all on public.security_alerts as permissive for all to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = security_alerts.company_id))
  with check (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = security_alerts.company_id));
drop policy if exists security_alerts_system_insert on public.security_alerts;
create policy security_alerts_system_insert on public.security_alerts as permissive for insert to workmonitor_app
  with check (auth.role() = 'service');

drop policy if exists dlp_incidents_owner_admin_read_admin_write on public.dlp_incidents;
create policy dlp_incidents_owner_admin_read_admin_write on public.dlp_incidents as permissive for all to workmonitor_app
  using ((user_id = auth.uid()) or (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = dlp_incidents.company_id)))
  with check (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = dlp_incidents.company_id));
drop policy if exists dlp_incidents_owner_insert on public.dlp_incidents;
create policy dlp_incidents_owner_insert on public.dlp_incidents as permissive for insert to workmonitor_app
  with check (user_id = auth.uid() and company_id = auth.company_id());

drop policy if exists usb_events_team_select on public.usb_events;
create policy usb_events_team_select on public.usb_events as permissive for select to workmonitor_app
  using ((user_id = auth.uid()) or (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = usb_events.company_id)) or (exists (select 1 from public.manager_assignments ma where ma.manager_id = auth.uid() and ma.active and ma.employee_id = usb_events.user_id)));
drop policy if exists usb_events_owner_insert on public.usb_events;
create policy usb_events_owner_insert on public.usb_events as permissive for insert to workmonitor_app
  with check (user_id = auth.uid() and company_id = auth.company_id());

drop policy if exists audit_logs_admin_select on public.audit_logs;
create policy audit_logs_admin_select on public.audit_logs as permissive for select to workmonitor_app
  using (exists (select 1 from public.users u where u.user_id = auth.uid() and u.role = 'admin' and u.company_id = audit_logs.company_id));
drop policy if exists audit_logs_actor_system_insert on public.audit_logs;
create policy audit_logs_actor_system_insert on public.audit_logs as permissive for insert to workmonitor_app
  with check (((actor_id = auth.uid() and company_id = auth.company_id()) and (exists (select 1 from public.users u where u.user_id = auth.uid() and u.company_id = audit_logs.company_id))) or (auth.role() = 'service'));

-- The runtime role gets exactly the commands its policies can allow.

revoke all on public.security_alerts from workmonitor_app, public;
grant select, insert, update, delete on public.security_alerts to workmonitor_app;
revoke all on public.dlp_incidents from workmonitor_app, public;
grant select, insert, update on public.dlp_incidents to workmonitor_app;
revoke all on public.usb_events from workmonitor_app, public;
grant select, insert on public.usb_events to workmonitor_app;
revoke all on public.audit_logs from workmonitor_app, public;
grant select, insert on public.audit_logs to workmonitor_app;

reset role;
reset client_min_messages;
