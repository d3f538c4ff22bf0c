"""Changes to the policy reach every Odoo process, whatever wrote them.

Odoo tells its other workers and servers to clear their caches by bumping a
signal (18: the sequence ``base_cache_signaling_default``; 19: a row inserted
in the table ``orm_signaling_default``), but only from the code paths that
call ``Registry.signal_changes()``: the end of an HTTP request, an RPC call, a
cron job. A rule fixed in ``odoo shell`` and committed, a script on its own
cursor, ``psql``: the running servers never hear of it and keep the old
snapshot. So PostgreSQL itself signals: a trigger on the allowlist and on the
``perimeter_security.*`` parameters bumps that sequence when the transaction
that changed them commits (a deferred constraint trigger runs at commit, so a
shell session that edits now and commits later does not signal too early).
Every process then clears its caches at its next request, as after any change
made through the web. ``perimeter.policy`` also re-reads its snapshot once a
minute, which bounds what any signal missed could cost.
"""

from odoo.tools import SQL

FUNCTION = "perimeter_security_signal_policy_change"
SEQUENCE = "base_cache_signaling_default"  # Odoo 18: Registry.setup_signaling, cache "default"
TABLE = "orm_signaling_default"  # Odoo 19: insert-only table, Registry.setup_signaling, cache "default"
PARAMETER_PATTERN = "perimeter\\_security.%"  # LIKE: the module's parameters, and nothing else
# (trigger name, table, event, WHEN condition, each %s standing for PARAMETER_PATTERN; or None)
TRIGGERS = (
    ("perimeter_security_rules_changed", "perimeter_allowlist", "INSERT OR UPDATE OR DELETE", None),
    ("perimeter_security_blocks_changed", "perimeter_blocklist", "INSERT OR UPDATE OR DELETE", None),
    # Networks named on groups and users (audiences): their relation tables are written directly.
    ("perimeter_security_group_networks_changed", "perimeter_allowlist_res_groups_rel",
     "INSERT OR UPDATE OR DELETE", None),
    ("perimeter_security_user_networks_changed", "perimeter_allowlist_res_users_rel",
     "INSERT OR UPDATE OR DELETE", None),
    ("perimeter_security_param_inserted", "ir_config_parameter", "INSERT", "NEW.key LIKE %s"),
    ("perimeter_security_param_updated", "ir_config_parameter", "UPDATE", "OLD.key LIKE %s OR NEW.key LIKE %s"),
    ("perimeter_security_param_deleted", "ir_config_parameter", "DELETE", "OLD.key LIKE %s"),
)


def install(cr):
    """Create (or replace) the function and the triggers; idempotent (module install and upgrade)."""
    cr.execute(SQL(
        """
        CREATE OR REPLACE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $body$
        BEGIN
            -- The signal exists once Odoo has set its signaling up (it is absent in a test-only database).
            -- Checked when it fires, not when installed: one body for 18 and 19 (and a database upgraded
            -- from 18 to 19, which may keep the old sequence).
            IF to_regclass(%s) IS NOT NULL THEN
                INSERT INTO %s DEFAULT VALUES;
            ELSIF to_regclass(%s) IS NOT NULL THEN
                PERFORM nextval(%s);
            END IF;
            RETURN NULL;
        END
        $body$
        """,
        SQL.identifier(FUNCTION), TABLE, SQL.identifier(TABLE), SEQUENCE, SEQUENCE,
    ))
    for name, table, event, condition in TRIGGERS:
        # Models are initialised one by one: a relation table made by a later model gets its trigger when
        # that model's init() calls this again.
        cr.execute(SQL("SELECT to_regclass(%s)", table))
        if cr.fetchone()[0] is None:
            continue
        cr.execute(SQL("DROP TRIGGER IF EXISTS %s ON %s", SQL.identifier(name), SQL.identifier(table)))
        when = SQL()
        if condition:
            when = SQL(" WHEN (%s)", SQL(condition, *[PARAMETER_PATTERN] * condition.count("%s")))
        cr.execute(SQL(
            "CREATE CONSTRAINT TRIGGER %s AFTER %s ON %s DEFERRABLE INITIALLY DEFERRED FOR EACH ROW%s "
            "EXECUTE FUNCTION %s()",
            SQL.identifier(name), SQL(event), SQL.identifier(table), when, SQL.identifier(FUNCTION),
        ))


def uninstall(cr):
    """Remove the function and, with it, every trigger that calls it."""
    cr.execute(SQL("DROP FUNCTION IF EXISTS %s() CASCADE", SQL.identifier(FUNCTION)))
