-- Migration 13 of 18: 20260102090649_add_missing_foreign_key_indexes
-- Performance: an index for every foreign key that had none (the linter's "unindexed foreign keys").
--
-- Apply as a superuser (or as workmonitor_owner once the roles exist), in order, e.g.
--   psql -v ON_ERROR_STOP=1 -f 20260102090649_add_missing_foreign_key_indexes.sql
-- or with `workmonitor-server migrate`, which runs each file in its own transaction.
-- Idempotent: every statement can run again on a database that already has it, and changes nothing then.
-- Objects are created as workmonitor_owner (SET ROLE below); RESET ROLE at the end.

set client_min_messages = warning;  -- "policy ... does not exist, skipping" is the expected case
set role workmonitor_owner;

create index if not exists manager_assignments_employee_id_idx on public.manager_assignments (employee_id);
create index if not exists manager_assignments_company_id_idx on public.manager_assignments (company_id);
create index if not exists manager_assignments_assigned_by_idx on public.manager_assignments (assigned_by);

create index if not exists tasks_assignee_id_idx on public.tasks (assignee_id);
create index if not exists tasks_company_id_idx on public.tasks (company_id);

create index if not exists time_entries_project_id_idx on public.time_entries (project_id);
create index if not exists time_entries_task_id_idx on public.time_entries (task_id);

create index if not exists timesheets_approved_by_idx on public.timesheets (approved_by);

create index if not exists scheduled_timers_user_id_idx on public.scheduled_timers (user_id);
create index if not exists scheduled_timers_company_id_idx on public.scheduled_timers (company_id);
create index if not exists scheduled_timers_created_by_idx on public.scheduled_timers (created_by);
create index if not exists scheduled_timers_project_id_idx on public.scheduled_timers (project_id);
create index if not exists scheduled_timers_task_id_idx on public.scheduled_timers (task_id);

create index if not exists timer_execution_log_user_id_idx on public.timer_execution_log (user_id);
create index if not exists timer_execution_log_company_id_idx on public.timer_execution_log (company_id);
create index if not exists timer_execution_log_time_entry_id_idx on public.timer_execution_log (time_entry_id);

create index if not exists shifts_company_id_idx on public.shifts (company_id);

create index if not exists attendance_shift_id_idx on public.attendance (shift_id);

create index if not exists shift_assignments_shift_id_idx on public.shift_assignments (shift_id);
create index if not exists shift_assignments_company_id_idx on public.shift_assignments (company_id);

create index if not exists leave_requests_reviewed_by_idx on public.leave_requests (reviewed_by);

create index if not exists screenshots_time_entry_id_idx on public.screenshots (time_entry_id);

create index if not exists invoices_project_id_idx on public.invoices (project_id);

create index if not exists bank_accounts_user_id_idx on public.bank_accounts (user_id);
create index if not exists bank_accounts_company_id_idx on public.bank_accounts (company_id);

create index if not exists chat_channels_company_id_idx on public.chat_channels (company_id);
create index if not exists chat_channels_project_id_idx on public.chat_channels (project_id);

create index if not exists chat_messages_sender_id_idx on public.chat_messages (sender_id);
create index if not exists chat_messages_company_id_idx on public.chat_messages (company_id);

create index if not exists notifications_company_id_idx on public.notifications (company_id);

create index if not exists project_assignments_user_id_idx on public.project_assignments (user_id);
create index if not exists project_assignments_company_id_idx on public.project_assignments (company_id);
create index if not exists project_assignments_assigned_by_idx on public.project_assignments (assigned_by);

create index if not exists employee_assignment_requests_employee_id_idx on public.employee_assignment_requests (employee_id);
create index if not exists employee_assignment_requests_project_id_idx on public.employee_assignment_requests (project_id);
create index if not exists employee_assignment_requests_requested_by_idx on public.employee_assignment_requests (requested_by);

create index if not exists work_agreements_created_by_idx on public.work_agreements (created_by);

create index if not exists consent_audit_log_company_id_idx on public.consent_audit_log (company_id);
create index if not exists consent_audit_log_agreement_id_idx on public.consent_audit_log (agreement_id);

create index if not exists screen_recordings_company_id_idx on public.screen_recordings (company_id);
create index if not exists screen_recordings_time_entry_id_idx on public.screen_recordings (time_entry_id);

create index if not exists work_submissions_project_id_idx on public.work_submissions (project_id);
create index if not exists work_submissions_task_id_idx on public.work_submissions (task_id);
create index if not exists work_submissions_reviewed_by_idx on public.work_submissions (reviewed_by);

create index if not exists manager_expense_access_employee_id_idx on public.manager_expense_access (employee_id);
create index if not exists manager_expense_access_company_id_idx on public.manager_expense_access (company_id);
create index if not exists manager_expense_access_granted_by_idx on public.manager_expense_access (granted_by);

create index if not exists employee_wages_company_id_idx on public.employee_wages (company_id);
create index if not exists employee_wages_set_by_idx on public.employee_wages (set_by);

create index if not exists wage_change_requests_user_id_idx on public.wage_change_requests (user_id);
create index if not exists wage_change_requests_requested_by_idx on public.wage_change_requests (requested_by);
create index if not exists wage_change_requests_reviewed_by_idx on public.wage_change_requests (reviewed_by);

create index if not exists expense_calculations_project_id_idx on public.expense_calculations (project_id);

create index if not exists escrow_accounts_project_id_idx on public.escrow_accounts (project_id);
create index if not exists escrow_accounts_agreement_id_idx on public.escrow_accounts (agreement_id);
create index if not exists escrow_accounts_user_id_idx on public.escrow_accounts (user_id);
create index if not exists escrow_accounts_funded_by_idx on public.escrow_accounts (funded_by);
create index if not exists escrow_accounts_release_approved_by_idx on public.escrow_accounts (release_approved_by);
create index if not exists escrow_accounts_bank_account_id_idx on public.escrow_accounts (bank_account_id);

create index if not exists recurring_payment_schedules_user_id_idx on public.recurring_payment_schedules (user_id);
create index if not exists recurring_payment_schedules_bank_account_id_idx on public.recurring_payment_schedules (bank_account_id);
create index if not exists recurring_payment_schedules_agreement_id_idx on public.recurring_payment_schedules (agreement_id);
create index if not exists recurring_payment_schedules_project_id_idx on public.recurring_payment_schedules (project_id);
create index if not exists recurring_payment_schedules_escrow_account_id_idx on public.recurring_payment_schedules (escrow_account_id);
create index if not exists recurring_payment_schedules_created_by_idx on public.recurring_payment_schedules (created_by);
create index if not exists recurring_payment_schedules_approved_by_idx on public.recurring_payment_schedules (approved_by);

create index if not exists payouts_bank_account_id_idx on public.payouts (bank_account_id);
create index if not exists payouts_payroll_id_idx on public.payouts (payroll_id);
create index if not exists payouts_escrow_account_id_idx on public.payouts (escrow_account_id);
create index if not exists payouts_schedule_id_idx on public.payouts (schedule_id);
create index if not exists payouts_work_submission_id_idx on public.payouts (work_submission_id);
create index if not exists payouts_requested_by_idx on public.payouts (requested_by);
create index if not exists payouts_approved_by_idx on public.payouts (approved_by);

create index if not exists payout_approvals_approver_id_idx on public.payout_approvals (approver_id);

create index if not exists payment_disputes_payout_id_idx on public.payment_disputes (payout_id);
create index if not exists payment_disputes_escrow_account_id_idx on public.payment_disputes (escrow_account_id);
create index if not exists payment_disputes_raised_by_idx on public.payment_disputes (raised_by);
create index if not exists payment_disputes_against_user_id_idx on public.payment_disputes (against_user_id);
create index if not exists payment_disputes_assigned_to_idx on public.payment_disputes (assigned_to);
create index if not exists payment_disputes_resolved_by_idx on public.payment_disputes (resolved_by);

create index if not exists geofences_company_id_idx on public.geofences (company_id);
create index if not exists geofences_project_id_idx on public.geofences (project_id);

create index if not exists field_sites_company_id_idx on public.field_sites (company_id);

create index if not exists app_categories_created_by_idx on public.app_categories (created_by);

create index if not exists website_categories_created_by_idx on public.website_categories (created_by);

create index if not exists blocked_apps_created_by_idx on public.blocked_apps (created_by);

create index if not exists blocked_websites_created_by_idx on public.blocked_websites (created_by);

create index if not exists idle_periods_time_entry_id_idx on public.idle_periods (time_entry_id);

create index if not exists integrations_created_by_idx on public.integrations (created_by);

create index if not exists security_alerts_user_id_idx on public.security_alerts (user_id);
create index if not exists security_alerts_acknowledged_by_idx on public.security_alerts (acknowledged_by);

create index if not exists audit_logs_actor_id_idx on public.audit_logs (actor_id);

reset role;
reset client_min_messages;
