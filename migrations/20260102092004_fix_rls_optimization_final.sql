-- Migration 16 of 18: 20260102092004_fix_rls_optimization_final
-- RLS performance: company-membership policies (and the users/companies helpers) in the (select ...) form.
--
-- Apply as a superuser (or as workmonitor_owner once the roles exist), in order, e.g.
--   psql -v ON_ERROR_STOP=1 -f 20260102092004_fix_rls_optimization_final.sql
-- or with `workmonitor-server migrate`, which runs each file in its own transaction.
-- Idempotent: every statement can run again on a database that already has it, and changes nothing then.
-- Objects are created as workmonitor_owner (SET ROLE below); RESET ROLE at the end.

set client_min_messages = warning;  -- "policy ... does not exist, skipping" is the expected case
set role workmonitor_owner;

alter policy companies_member_read_admin_write on public.companies to workmonitor_app
  using (id = (select auth.company_id()))
  with check (id = (select auth.company_id()) and (select auth.user_role()) = 'admin');

alter policy users_member_read_self_admin_write on public.users to workmonitor_app
  using (company_id = (select auth.company_id()))
  with check ((user_id = (select auth.uid()) and role = (select auth.user_role()) and company_id = (select auth.company_id())) or (company_id = (select auth.company_id()) and (select auth.user_role()) = 'admin'));

alter policy projects_member_select on public.projects to workmonitor_app
  using (company_id = (select auth.company_id()));

alter policy tasks_member_select on public.tasks to workmonitor_app
  using (company_id = (select auth.company_id()));

alter policy shifts_member_select on public.shifts to workmonitor_app
  using (company_id = (select auth.company_id()));

alter policy chat_channels_member_select on public.chat_channels to workmonitor_app
  using (company_id = (select auth.company_id()));

alter policy chat_messages_member_read_author_write on public.chat_messages to workmonitor_app
  using (company_id = (select auth.company_id()))
  with check ((sender_id = (select auth.uid()) and company_id = (select auth.company_id())) and (company_id = (select auth.company_id())));

alter policy payouts_payee_request_insert on public.payouts to workmonitor_app
  with check ((user_id = (select auth.uid()) and company_id = (select auth.company_id())) and (requested_by = (select auth.uid()) and company_id = (select auth.company_id())) and (company_id = (select auth.company_id())) and (status = 'pending'));

alter policy payment_disputes_raiser_insert on public.payment_disputes to workmonitor_app
  with check ((raised_by = (select auth.uid()) and company_id = (select auth.company_id())) and (company_id = (select auth.company_id())) and (status = 'open'));

alter policy geofences_member_select on public.geofences to workmonitor_app
  using (company_id = (select auth.company_id()));

alter policy field_sites_member_select on public.field_sites to workmonitor_app
  using (company_id = (select auth.company_id()));

alter policy app_categories_member_select on public.app_categories to workmonitor_app
  using (company_id = (select auth.company_id()));

alter policy website_categories_member_select on public.website_categories to workmonitor_app
  using (company_id = (select auth.company_id()));

alter policy blocked_apps_member_select on public.blocked_apps to workmonitor_app
  using (company_id = (select auth.company_id()));

alter policy blocked_websites_member_select on public.blocked_websites to workmonitor_app
  using (company_id = (select auth.company_id()));

alter policy integrations_member_select on public.integrations to workmonitor_app
  using (company_id = (select auth.company_id()));

alter policy audit_logs_actor_system_insert on public.audit_logs to workmonitor_app
  with check (((actor_id = (select auth.uid()) and company_id = (select auth.company_id())) and (company_id = (select auth.company_id()))) or ((select auth.role()) = 'service'));



reset role;
reset client_min_messages;
