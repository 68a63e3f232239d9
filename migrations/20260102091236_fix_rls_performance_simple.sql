-- Migration 14 of 18: 20260102091236_fix_rls_performance_simple
-- RLS performance: self-access policies call (select auth.uid()) so it is evaluated once per query, not once per row.
--
-- Apply as a superuser (or as workmonitor_owner once the roles exist), in order, e.g.
--   psql -v ON_ERROR_STOP=1 -f 20260102091236_fix_rls_performance_simple.sql
-- or with `workmonitor-server migrate`, which runs each file in its own transaction.
-- Idempotent: every statement can run again on a database that already has it, and changes nothing then.
-- Objects are created as workmonitor_owner (SET ROLE below); RESET ROLE at the end.

set client_min_messages = warning;  -- "policy ... does not exist, skipping" is the expected case
set role workmonitor_owner;

alter policy tasks_assignee_update on public.tasks to workmonitor_app
  using (assignee_id = (select auth.uid()))
  with check (assignee_id = (select auth.uid()) and company_id = (select auth.company_id()));

alter policy leave_requests_owner_delete_pending on public.leave_requests to workmonitor_app
  using ((user_id = (select auth.uid())) and (status = 'pending'));

alter policy bank_accounts_owner_select on public.bank_accounts to workmonitor_app
  using (user_id = (select auth.uid()));
alter policy bank_accounts_owner_insert on public.bank_accounts to workmonitor_app
  with check (user_id = (select auth.uid()) and company_id = (select auth.company_id()));
alter policy bank_accounts_owner_delete on public.bank_accounts to workmonitor_app
  using (user_id = (select auth.uid()));

alter policy notifications_recipient_select on public.notifications to workmonitor_app
  using (user_id = (select auth.uid()));
alter policy notifications_recipient_update on public.notifications to workmonitor_app
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()) and company_id = (select auth.company_id()));
alter policy notifications_recipient_delete on public.notifications to workmonitor_app
  using (user_id = (select auth.uid()));

alter policy screen_recordings_owner_insert on public.screen_recordings to workmonitor_app
  with check (user_id = (select auth.uid()) and company_id = (select auth.company_id()));
alter policy screen_recordings_owner_update on public.screen_recordings to workmonitor_app
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()) and company_id = (select auth.company_id()));

alter policy work_submissions_owner_select on public.work_submissions to workmonitor_app
  using (user_id = (select auth.uid()));
alter policy work_submissions_owner_insert on public.work_submissions to workmonitor_app
  with check ((user_id = (select auth.uid()) and company_id = (select auth.company_id())) and (status in ('draft', 'submitted')));
alter policy work_submissions_owner_update on public.work_submissions to workmonitor_app
  using ((user_id = (select auth.uid())) and (status in ('draft', 'submitted', 'revision_requested')))
  with check ((user_id = (select auth.uid()) and company_id = (select auth.company_id())) and (status in ('draft', 'submitted')));

alter policy manager_expense_access_manager_select on public.manager_expense_access to workmonitor_app
  using (manager_id = (select auth.uid()));

alter policy employee_wages_owner_select on public.employee_wages to workmonitor_app
  using (user_id = (select auth.uid()));

alter policy wage_change_requests_requester_cancel on public.wage_change_requests to workmonitor_app
  using ((requested_by = (select auth.uid())) and (status = 'pending'))
  with check ((requested_by = (select auth.uid()) and company_id = (select auth.company_id())) and (status in ('pending', 'cancelled')));

alter policy expense_calculations_owner_select on public.expense_calculations to workmonitor_app
  using (user_id = (select auth.uid()));

alter policy escrow_accounts_payee_select on public.escrow_accounts to workmonitor_app
  using (user_id = (select auth.uid()));

alter policy payment_disputes_raiser_withdraw on public.payment_disputes to workmonitor_app
  using ((raised_by = (select auth.uid())) and (status = 'open'))
  with check ((raised_by = (select auth.uid()) and company_id = (select auth.company_id())) and (status in ('open', 'withdrawn')));

alter policy gps_locations_owner_insert on public.gps_locations to workmonitor_app
  with check (user_id = (select auth.uid()) and company_id = (select auth.company_id()));

alter policy routes_owner_system_insert on public.routes to workmonitor_app
  with check ((user_id = (select auth.uid()) and company_id = (select auth.company_id())) or ((select auth.role()) = 'service'));

alter policy app_usage_owner_all on public.app_usage to workmonitor_app
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()) and company_id = (select auth.company_id()));

alter policy website_usage_owner_all on public.website_usage to workmonitor_app
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()) and company_id = (select auth.company_id()));

alter policy idle_periods_owner_all on public.idle_periods to workmonitor_app
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()) and company_id = (select auth.company_id()));

alter policy breaks_owner_all on public.breaks to workmonitor_app
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()) and company_id = (select auth.company_id()));

alter policy security_alerts_system_insert on public.security_alerts to workmonitor_app
  with check ((select auth.role()) = 'service');

alter policy dlp_incidents_owner_insert on public.dlp_incidents to workmonitor_app
  with check (user_id = (select auth.uid()) and company_id = (select auth.company_id()));

alter policy usb_events_owner_insert on public.usb_events to workmonitor_app
  with check (user_id = (select auth.uid()) and company_id = (select auth.company_id()));

alter policy activity_history_system_insert on public.activity_history to workmonitor_app
  with check ((select auth.role()) = 'service');
alter policy activity_history_system_update on public.activity_history to workmonitor_app
  using ((select auth.role()) = 'service')
  with check ((select auth.role()) = 'service');
alter policy activity_history_system_delete on public.activity_history to workmonitor_app
  using ((select auth.role()) = 'service');

alter policy productivity_scores_system_all on public.productivity_scores to workmonitor_app
  using ((select auth.role()) = 'service')
  with check ((select auth.role()) = 'service');

alter policy focus_time_system_all on public.focus_time to workmonitor_app
  using ((select auth.role()) = 'service')
  with check ((select auth.role()) = 'service');

alter policy burnout_indicators_system_all on public.burnout_indicators to workmonitor_app
  using ((select auth.role()) = 'service')
  with check ((select auth.role()) = 'service');

alter policy meeting_insights_system_all on public.meeting_insights to workmonitor_app
  using ((select auth.role()) = 'service')
  with check ((select auth.role()) = 'service');

reset role;
reset client_min_messages;
