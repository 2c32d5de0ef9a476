-- A second wall between organisations: the case tables show and accept only
-- rows of the organisation in the transaction's `caseflow.org` setting
-- (`all` for the trusted writer and workers). Unset, they show nothing.
-- FORCE makes the tables' owner subject too; superusers and roles with
-- BYPASSRLS are not, so connect caseflow as an ordinary role.
CREATE FUNCTION caseflow_org_visible(row_org UUID) RETURNS BOOLEAN
    LANGUAGE sql STABLE
    AS $$
        SELECT current_setting('caseflow.org', true) = 'all'
            OR row_org::text = current_setting('caseflow.org', true)
    $$;

ALTER TABLE cases ENABLE ROW LEVEL SECURITY;
ALTER TABLE cases FORCE ROW LEVEL SECURITY;
CREATE POLICY organisation_wall ON cases
    USING (caseflow_org_visible(org_id)) WITH CHECK (caseflow_org_visible(org_id));

ALTER TABLE audit_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_entries FORCE ROW LEVEL SECURITY;
CREATE POLICY organisation_wall ON audit_entries
    USING (caseflow_org_visible(org_id)) WITH CHECK (caseflow_org_visible(org_id));

ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY organisation_wall ON outbox
    USING (caseflow_org_visible(org_id)) WITH CHECK (caseflow_org_visible(org_id));

ALTER TABLE notifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE notifications FORCE ROW LEVEL SECURITY;
CREATE POLICY organisation_wall ON notifications
    USING (caseflow_org_visible(org_id)) WITH CHECK (caseflow_org_visible(org_id));

ALTER TABLE case_reads ENABLE ROW LEVEL SECURITY;
ALTER TABLE case_reads FORCE ROW LEVEL SECURITY;
CREATE POLICY organisation_wall ON case_reads
    USING (caseflow_org_visible(org_id)) WITH CHECK (caseflow_org_visible(org_id));
