#!/bin/sh
# Keep an edge proxy's copy of Odoo's perimeter rules up to date (run it from a systemd timer or cron).
#
# Fetches the rules in force from Odoo (GET /perimeter/edge/nginx or /perimeter/edge/haproxy, with an API key
# of the "Perimeter edge sync" user as bearer token), installs them only when they changed (ETag /
# If-None-Match: an unchanged sync is a 304), checks the proxy's configuration with them and reloads it.
# When Odoo is unreachable, answers an error, or the new file fails the check, the last good file stays in
# place and the script exits non-zero (so the timer's log shows it).
#
# Settings (environment, e.g. a systemd EnvironmentFile):
#   EDGE_URL        http://127.0.0.1:8069/perimeter/edge/nginx   (HAProxy: .../haproxy, .../haproxy?list=block):
#                   Odoo as the proxy reaches it (its upstream): the key is accepted from the trusted proxies only
#   EDGE_KEY_FILE   file holding the API key (mode 0600); it never appears on a command line
#   EDGE_TARGET     the file the proxy includes, e.g. /etc/nginx/odoo-allowlist.conf
#   EDGE_CHECK      command that checks the proxy's configuration   (default: nginx -t -q)
#   EDGE_RELOAD     command that reloads the proxy                  (default: nginx -s reload)
#   EDGE_TIMEOUT    seconds for the whole request                   (default: 20)
set -u

: "${EDGE_URL:?set EDGE_URL}" "${EDGE_KEY_FILE:?set EDGE_KEY_FILE}" "${EDGE_TARGET:?set EDGE_TARGET}"
EDGE_CHECK=${EDGE_CHECK:-nginx -t -q}
EDGE_RELOAD=${EDGE_RELOAD:-nginx -s reload}
EDGE_TIMEOUT=${EDGE_TIMEOUT:-20}
etag_file="$EDGE_TARGET.etag"
good="$EDGE_TARGET.last-good"

say() { echo "edge_sync: $*" >&2; }

key=$(tr -d ' \r\n' < "$EDGE_KEY_FILE") || { say "cannot read $EDGE_KEY_FILE"; exit 2; }
new=$(mktemp "$EDGE_TARGET.new.XXXXXX") || exit 2
trap 'rm -f "$new"' EXIT

etag=""
[ -s "$etag_file" ] && [ -f "$EDGE_TARGET" ] && etag=$(cat "$etag_file")
# The key and the ETag go through curl's configuration on stdin, not its arguments.
status=$({
    printf 'header = "Authorization: Bearer %s"\n' "$key"
    # An ETag is quoted ("..."): escaped for curl's quoted configuration value.
    [ -n "$etag" ] && printf 'header = "If-None-Match: %s"\n' "$(printf '%s' "$etag" | sed 's/["\\]/\\&/g')"
} | curl --config - --silent --show-error --max-time "$EDGE_TIMEOUT" --output "$new" \
        --dump-header "$new.headers" --write-out '%{http_code}' "$EDGE_URL")
curl_rc=$?
headers=$(cat "$new.headers" 2>/dev/null); rm -f "$new.headers"

if [ "$curl_rc" -ne 0 ]; then
    say "Odoo unreachable (curl exit $curl_rc): keeping $EDGE_TARGET"; exit 1
fi
case "$status" in
    304) say "unchanged (304)"; exit 0 ;;
    200) ;;
    *) say "Odoo answered $status: keeping $EDGE_TARGET"; exit 1 ;;
esac
if ! head -n 1 "$new" | grep -q '^# Perimeter Security '; then
    say "the answer is not a rules file: keeping $EDGE_TARGET"; exit 1
fi
new_etag=$(printf '%s\n' "$headers" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: *//p' | tail -n 1)

[ -f "$EDGE_TARGET" ] && cp -p "$EDGE_TARGET" "$good"
chmod 0644 "$new"
mv -f "$new" "$EDGE_TARGET"
if ! sh -c "$EDGE_CHECK"; then
    say "the proxy refused the new rules: restoring the last good file"
    if [ -f "$good" ]; then cp -p "$good" "$EDGE_TARGET"; else rm -f "$EDGE_TARGET"; fi
    exit 1
fi
if ! sh -c "$EDGE_RELOAD"; then
    say "reload failed: restoring the last good file"
    [ -f "$good" ] && cp -p "$good" "$EDGE_TARGET"
    exit 1
fi
printf '%s\n' "$new_etag" > "$etag_file"
say "installed new rules ($new_etag)"
