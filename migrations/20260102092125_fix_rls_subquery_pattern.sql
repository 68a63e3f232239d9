-- Migration 17 of 18: 20260102092125_fix_rls_subquery_pattern
-- RLS performance: admin and manager checks rewritten from per-row correlated EXISTS to their subquery evaluated once per query, through (select auth.admin_company_id()) / (select auth.managed_user_ids()).
--
-- Apply as a superuser (or as workmonitor_owner once the roles exist), in order, e.g.
--   psql -v ON_ERROR_STOP=1 -f 20260102092125_fix_rls_subquery_pattern.sql
-- or with `workmonitor-server migrate`, which runs each file in its own transaction.
-- Idempotent: every statement can run again on a database that already has it, and changes nothing then.
-- Objects are created as workmonitor_owner (SET ROLE below); RESET ROLE at the end.

set client_min_messages = warning;  -- "policy ... does not exist, skipping" is the expected case
set role workmonitor_owner;

alter policy manager_assignments_party_select on public.manager_assignments to workmonitor_app
  using ((employee_id = (select auth.uid())) or (manager_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())));
alter policy manager_assignments_admin_all on public.manager_assignments to workmonitor_app
  using (company_id = (select auth.admin_company_id()))
  with check (company_id = (select auth.admin_company_id()));

alter policy subscriptions_admin_read_system_write on public.subscriptions to workmonitor_app
  using ((company_id = (select auth.admin_company_id())) or ((select auth.role()) = 'service'))
  with check ((select auth.role()) = 'service');

alter policy projects_admin_all on public.projects to workmonitor_app
  using (company_id = (select auth.admin_company_id()))
  with check (company_id = (select auth.admin_company_id()));

alter policy tasks_admin_all on public.tasks to workmonitor_app
  using (company_id = (select auth.admin_company_id()))
  with check (company_id = (select auth.admin_company_id()));

alter policy time_entries_owner_admin_all on public.time_entries to workmonitor_app
  using ((user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())))
  with check ((user_id = (select auth.uid()) and company_id = (select auth.company_id())) or (company_id = (select auth.admin_company_id())));
alter policy time_entries_manager_select on public.time_entries to workmonitor_app
  using (user_id = any ((select auth.managed_user_ids())::uuid[]));

alter policy timesheets_team_rw on public.timesheets to workmonitor_app
  using ((user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())) or (user_id = any ((select auth.managed_user_ids())::uuid[])))
  with check (((user_id = (select auth.uid()) and company_id = (select auth.company_id())) and (status in ('draft', 'submitted'))) or (company_id = (select auth.admin_company_id())) or (user_id = any ((select auth.managed_user_ids())::uuid[])));

alter policy scheduled_timers_owner_admin_all on public.scheduled_timers to workmonitor_app
  using ((user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())))
  with check ((user_id = (select auth.uid()) and company_id = (select auth.company_id())) or (company_id = (select auth.admin_company_id())));
alter policy scheduled_timers_manager_select on public.scheduled_timers to workmonitor_app
  using (user_id = any ((select auth.managed_user_ids())::uuid[]));

alter policy timer_execution_log_team_read_owner_write on public.timer_execution_log to workmonitor_app
  using ((user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())) or (user_id = any ((select auth.managed_user_ids())::uuid[])) or ((select auth.role()) = 'service'))
  with check ((user_id = (select auth.uid()) and company_id = (select auth.company_id())) or ((select auth.role()) = 'service'));

alter policy activity_logs_team_read_owner_admin_write on public.activity_logs to workmonitor_app
  using ((user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())) or (user_id = any ((select auth.managed_user_ids())::uuid[])))
  with check ((user_id = (select auth.uid()) and company_id = (select auth.company_id())) or (company_id = (select auth.admin_company_id())));

alter policy shifts_admin_all on public.shifts to workmonitor_app
  using (company_id = (select auth.admin_company_id()))
  with check (company_id = (select auth.admin_company_id()));

alter policy attendance_team_read_owner_admin_write on public.attendance to workmonitor_app
  using ((user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())) or (user_id = any ((select auth.managed_user_ids())::uuid[])))
  with check ((user_id = (select auth.uid()) and company_id = (select auth.company_id())) or (company_id = (select auth.admin_company_id())));

alter policy shift_assignments_team_select on public.shift_assignments to workmonitor_app
  using ((user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())) or (user_id = any ((select auth.managed_user_ids())::uuid[])));
alter policy shift_assignments_admin_all on public.shift_assignments to workmonitor_app
  using (company_id = (select auth.admin_company_id()))
  with check (company_id = (select auth.admin_company_id()));

alter policy leave_requests_team_select on public.leave_requests to workmonitor_app
  using ((user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())) or (user_id = any ((select auth.managed_user_ids())::uuid[])));
alter policy leave_requests_owner_admin_insert on public.leave_requests to workmonitor_app
  with check (((user_id = (select auth.uid()) and company_id = (select auth.company_id())) and (status = 'pending')) or (company_id = (select auth.admin_company_id())));
alter policy leave_requests_team_update on public.leave_requests to workmonitor_app
  using ((user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())) or (user_id = any ((select auth.managed_user_ids())::uuid[])))
  with check (((user_id = (select auth.uid()) and company_id = (select auth.company_id())) and (status in ('pending', 'cancelled'))) or (company_id = (select auth.admin_company_id())) or (user_id = any ((select auth.managed_user_ids())::uuid[])));

alter policy screenshots_owner_admin_all on public.screenshots to workmonitor_app
  using ((user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())))
  with check ((user_id = (select auth.uid()) and company_id = (select auth.company_id())) or (company_id = (select auth.admin_company_id())));
alter policy screenshots_manager_select on public.screenshots to workmonitor_app
  using (user_id = any ((select auth.managed_user_ids())::uuid[]));

alter policy payroll_owner_read_admin_write on public.payroll to workmonitor_app
  using ((user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())))
  with check (company_id = (select auth.admin_company_id()));

alter policy invoices_admin_all on public.invoices to workmonitor_app
  using (company_id = (select auth.admin_company_id()))
  with check (company_id = (select auth.admin_company_id()));

alter policy bank_accounts_admin_select on public.bank_accounts to workmonitor_app
  using (company_id = (select auth.admin_company_id()));
alter policy bank_accounts_owner_admin_update on public.bank_accounts to workmonitor_app
  using ((user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())))
  with check ((user_id = (select auth.uid()) and company_id = (select auth.company_id())) or (company_id = (select auth.admin_company_id())));

alter policy chat_channels_admin_all on public.chat_channels to workmonitor_app
  using (company_id = (select auth.admin_company_id()))
  with check (company_id = (select auth.admin_company_id()));

alter policy notifications_admin_system_insert on public.notifications to workmonitor_app
  with check ((company_id = (select auth.admin_company_id())) or ((select auth.role()) = 'service'));

alter policy project_assignments_owner_admin_select on public.project_assignments to workmonitor_app
  using ((user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())));
alter policy project_assignments_manager_select on public.project_assignments to workmonitor_app
  using (user_id = any ((select auth.managed_user_ids())::uuid[]));
alter policy project_assignments_admin_insert on public.project_assignments to workmonitor_app
  with check (company_id = (select auth.admin_company_id()));
alter policy project_assignments_admin_update on public.project_assignments to workmonitor_app
  using (company_id = (select auth.admin_company_id()))
  with check (company_id = (select auth.admin_company_id()));
alter policy project_assignments_admin_delete on public.project_assignments to workmonitor_app
  using (company_id = (select auth.admin_company_id()));

alter policy employee_assignment_requests_party_select on public.employee_assignment_requests to workmonitor_app
  using ((employee_id = (select auth.uid())) or (requested_by = (select auth.uid())) or (company_id = (select auth.admin_company_id())) or (employee_id = any ((select auth.managed_user_ids())::uuid[])));
alter policy employee_assignment_requests_requester_admin_write on public.employee_assignment_requests to workmonitor_app
  using ((company_id = (select auth.admin_company_id())) or (requested_by = (select auth.uid())))
  with check ((company_id = (select auth.admin_company_id())) or ((requested_by = (select auth.uid()) and company_id = (select auth.company_id())) and (company_id = (select auth.company_id())) and (status in ('pending', 'withdrawn'))));

alter policy work_agreements_owner_read_admin_write on public.work_agreements to workmonitor_app
  using ((employee_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())))
  with check (company_id = (select auth.admin_company_id()));

alter policy agreement_clauses_agreement_select on public.agreement_clauses to workmonitor_app
  using (agreement_id in (select p.id from public.work_agreements p));
alter policy agreement_clauses_admin_all on public.agreement_clauses to workmonitor_app
  using (agreement_id in (select p.id from public.work_agreements p where p.company_id = (select auth.admin_company_id())))
  with check (agreement_id in (select p.id from public.work_agreements p where p.company_id = (select auth.admin_company_id())));

alter policy consent_audit_log_owner_admin_read_owner_insert on public.consent_audit_log to workmonitor_app
  using ((user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())))
  with check (user_id = (select auth.uid()) and company_id = (select auth.company_id()));

alter policy screen_recordings_team_select on public.screen_recordings to workmonitor_app
  using ((user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())) or (user_id = any ((select auth.managed_user_ids())::uuid[])));
alter policy screen_recordings_admin_delete on public.screen_recordings to workmonitor_app
  using (company_id = (select auth.admin_company_id()));

alter policy work_submissions_admin_select on public.work_submissions to workmonitor_app
  using (company_id = (select auth.admin_company_id()));
alter policy work_submissions_manager_select on public.work_submissions to workmonitor_app
  using (user_id = any ((select auth.managed_user_ids())::uuid[]));
alter policy work_submissions_reviewer_update on public.work_submissions to workmonitor_app
  using ((company_id = (select auth.admin_company_id())) or (user_id = any ((select auth.managed_user_ids())::uuid[])))
  with check ((company_id = (select auth.admin_company_id())) or (user_id = any ((select auth.managed_user_ids())::uuid[])));

alter policy manager_expense_access_admin_select on public.manager_expense_access to workmonitor_app
  using (company_id = (select auth.admin_company_id()));
alter policy manager_expense_access_admin_insert on public.manager_expense_access to workmonitor_app
  with check (company_id = (select auth.admin_company_id()));
alter policy manager_expense_access_admin_delete on public.manager_expense_access to workmonitor_app
  using (company_id = (select auth.admin_company_id()));

alter policy employee_wages_admin_select on public.employee_wages to workmonitor_app
  using (company_id = (select auth.admin_company_id()));
alter policy employee_wages_admin_insert on public.employee_wages to workmonitor_app
  with check (company_id = (select auth.admin_company_id()));
alter policy employee_wages_admin_update on public.employee_wages to workmonitor_app
  using (company_id = (select auth.admin_company_id()))
  with check (company_id = (select auth.admin_company_id()));

alter policy wage_change_requests_party_select on public.wage_change_requests to workmonitor_app
  using ((user_id = (select auth.uid())) or (requested_by = (select auth.uid())) or (company_id = (select auth.admin_company_id())));
alter policy wage_change_requests_requester_insert on public.wage_change_requests to workmonitor_app
  with check ((requested_by = (select auth.uid()) and company_id = (select auth.company_id())) and ((company_id = (select auth.admin_company_id())) or (user_id = any ((select auth.managed_user_ids())::uuid[]))) and (status = 'pending'));
alter policy wage_change_requests_admin_update on public.wage_change_requests to workmonitor_app
  using (company_id = (select auth.admin_company_id()))
  with check (company_id = (select auth.admin_company_id()));

alter policy expense_calculations_admin_expense_manager_select on public.expense_calculations to workmonitor_app
  using ((company_id = (select auth.admin_company_id())) or (user_id = any ((select auth.expense_user_ids())::uuid[])));
alter policy expense_calculations_admin_all on public.expense_calculations to workmonitor_app
  using (company_id = (select auth.admin_company_id()))
  with check (company_id = (select auth.admin_company_id()));

alter policy escrow_accounts_admin_select on public.escrow_accounts to workmonitor_app
  using (company_id = (select auth.admin_company_id()));
alter policy escrow_accounts_admin_insert on public.escrow_accounts to workmonitor_app
  with check (company_id = (select auth.admin_company_id()));
alter policy escrow_accounts_admin_update on public.escrow_accounts to workmonitor_app
  using (company_id = (select auth.admin_company_id()))
  with check (company_id = (select auth.admin_company_id()));

alter policy recurring_payment_schedules_payee_admin_select on public.recurring_payment_schedules to workmonitor_app
  using ((user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())));
alter policy recurring_payment_schedules_admin_all on public.recurring_payment_schedules to workmonitor_app
  using (company_id = (select auth.admin_company_id()))
  with check (company_id = (select auth.admin_company_id()));

alter policy payouts_payee_admin_select on public.payouts to workmonitor_app
  using ((user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())));
alter policy payouts_admin_insert on public.payouts to workmonitor_app
  with check (company_id = (select auth.admin_company_id()));
alter policy payouts_admin_update on public.payouts to workmonitor_app
  using (company_id = (select auth.admin_company_id()))
  with check (company_id = (select auth.admin_company_id()));

alter policy payout_approvals_payout_select on public.payout_approvals to workmonitor_app
  using (payout_id in (select p.id from public.payouts p));
alter policy payout_approvals_admin_insert on public.payout_approvals to workmonitor_app
  with check ((approver_id = (select auth.uid())) and (payout_id in (select p.id from public.payouts p where p.company_id = (select auth.admin_company_id()))));

alter policy payment_disputes_party_select on public.payment_disputes to workmonitor_app
  using ((raised_by = (select auth.uid())) or (against_user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())));
alter policy payment_disputes_admin_update on public.payment_disputes to workmonitor_app
  using (company_id = (select auth.admin_company_id()))
  with check (company_id = (select auth.admin_company_id()));

alter policy gps_locations_team_select on public.gps_locations to workmonitor_app
  using ((user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())) or (user_id = any ((select auth.managed_user_ids())::uuid[])));

alter policy geofences_admin_all on public.geofences to workmonitor_app
  using (company_id = (select auth.admin_company_id()))
  with check (company_id = (select auth.admin_company_id()));

alter policy field_sites_admin_all on public.field_sites to workmonitor_app
  using (company_id = (select auth.admin_company_id()))
  with check (company_id = (select auth.admin_company_id()));

alter policy routes_team_select on public.routes to workmonitor_app
  using ((user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())) or (user_id = any ((select auth.managed_user_ids())::uuid[])));

alter policy app_usage_admin_manager_select on public.app_usage to workmonitor_app
  using ((company_id = (select auth.admin_company_id())) or (user_id = any ((select auth.managed_user_ids())::uuid[])));

alter policy website_usage_admin_manager_select on public.website_usage to workmonitor_app
  using ((company_id = (select auth.admin_company_id())) or (user_id = any ((select auth.managed_user_ids())::uuid[])));

alter policy app_categories_admin_all on public.app_categories to workmonitor_app
  using (company_id = (select auth.admin_company_id()))
  with check (company_id = (select auth.admin_company_id()));

alter policy website_categories_admin_all on public.website_categories to workmonitor_app
  using (company_id = (select auth.admin_company_id()))
  with check (company_id = (select auth.admin_company_id()));

alter policy blocked_apps_admin_all on public.blocked_apps to workmonitor_app
  using (company_id = (select auth.admin_company_id()))
  with check (company_id = (select auth.admin_company_id()));

alter policy blocked_websites_admin_all on public.blocked_websites to workmonitor_app
  using (company_id = (select auth.admin_company_id()))
  with check (company_id = (select auth.admin_company_id()));

alter policy idle_periods_admin_manager_select on public.idle_periods to workmonitor_app
  using ((company_id = (select auth.admin_company_id())) or (user_id = any ((select auth.managed_user_ids())::uuid[])));

alter policy breaks_admin_manager_select on public.breaks to workmonitor_app
  using ((company_id = (select auth.admin_company_id())) or (user_id = any ((select auth.managed_user_ids())::uuid[])));

alter policy integrations_admin_all on public.integrations to workmonitor_app
  using (company_id = (select auth.admin_company_id()))
  with check (company_id = (select auth.admin_company_id()));

alter policy integration_sync_logs_admin_read_system_write on public.integration_sync_logs to workmonitor_app
  using ((integration_id in (select p.id from public.integrations p where p.company_id = (select auth.admin_company_id()))) or ((select auth.role()) = 'service'))
  with check ((select auth.role()) = 'service');

alter policy security_alerts_admin_all on public.security_alerts to workmonitor_app
  using (company_id = (select auth.admin_company_id()))
  with check (company_id = (select auth.admin_company_id()));

alter policy dlp_incidents_owner_admin_read_admin_write on public.dlp_incidents to workmonitor_app
  using ((user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())))
  with check (company_id = (select auth.admin_company_id()));

alter policy usb_events_team_select on public.usb_events to workmonitor_app
  using ((user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())) or (user_id = any ((select auth.managed_user_ids())::uuid[])));

alter policy audit_logs_admin_select on public.audit_logs to workmonitor_app
  using (company_id = (select auth.admin_company_id()));

alter policy activity_history_team_select on public.activity_history to workmonitor_app
  using ((user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())) or (user_id = any ((select auth.managed_user_ids())::uuid[])));

alter policy productivity_scores_team_select on public.productivity_scores to workmonitor_app
  using ((user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())) or (user_id = any ((select auth.managed_user_ids())::uuid[])));

alter policy focus_time_team_select on public.focus_time to workmonitor_app
  using ((user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())) or (user_id = any ((select auth.managed_user_ids())::uuid[])));

alter policy burnout_indicators_team_select on public.burnout_indicators to workmonitor_app
  using ((user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())) or (user_id = any ((select auth.managed_user_ids())::uuid[])));

alter policy meeting_insights_team_select on public.meeting_insights to workmonitor_app
  using ((user_id = (select auth.uid())) or (company_id = (select auth.admin_company_id())) or (user_id = any ((select auth.managed_user_ids())::uuid[])));

reset role;
reset client_min_messages;
