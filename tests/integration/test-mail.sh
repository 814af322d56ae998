#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Mail (docs/mail.md), end to end: invitations are rendered from the
# templates in the user's language and written to the outbox in the
# invitation's own transaction, then delivered after the commit
#   - to a spool directory: one file per mail, named after its Message-ID,
#     RFC 5322 headers with RFC 2047 encoded words, quoted-printable UTF-8;
#   - through a real mail transfer agent from Debian (exim4, run by this
#     test in the foreground on a private port of 127.0.0.1 with a private
#     configuration, spool and maildir; the host's mail setup is untouched)
#     over SMTP ([mail] smtp), and the link read out of the delivered mail
#     redeems the invitation;
#   - to a sendmail-compatible command.
# Failures wait in the queue with their attempts and last error
# (`nexalixctl mail queue`), and the crash test: the MTA down, three mails
# queued, nexalixd killed with SIGKILL and started again, the MTA up: every
# mail arrives exactly once.

. "$(dirname "$0")/lib.sh"
nx_init python3
nx_bus_start main

PARSE=$NX_TMP/parse-mail.py
cat >"$PARSE" <<'EOF'
# parse-mail.py FILE...: one JSON object per message, as a reader sees it.
import email, email.policy, json, re, sys
for path in sys.argv[1:]:
    raw = open(path, 'rb').read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    body = msg.get_content()
    link = re.search(r'https://\S+token=(\S+)', body)
    lines = raw.replace(b'\r\n', b'\n').split(b'\n')
    print(json.dumps({
        'subject': str(msg['Subject']),
        'to': str(msg['To']),
        'from': str(msg['From']),
        'message_id': str(msg['Message-ID']),
        'date': str(msg['Date']),
        'content_type': msg.get_content_type(),
        'charset': msg.get_content_charset(),
        'cte': str(msg['Content-Transfer-Encoding']),
        'kind': str(msg['X-Nexalix-Kind']),
        'body': body,
        'token': link.group(1) if link else None,
        'max_line': max(len(l) for l in lines),
        'ascii': all(b < 128 for b in raw),
        'crlf': b'\r\n' in raw and b'\n' not in raw.replace(b'\r\n', b''),
        'path': path,
    }, ensure_ascii=False))
EOF

# mails_in DIR: the messages (spool files or maildir/new files) as JSON lines.
mails_in() {
    local files=()
    mapfile -t files < <(find "$1" -type f ! -name '.*' | sort)
    [ "${#files[@]}" -gt 0 ] || return 0
    python3 "$PARSE" "${files[@]}"
}
count_files() { find "$1" -type f ! -name '.*' 2>/dev/null | wc -l; }

# wait_for DESCRIPTION SECONDS COMMAND…: polls COMMAND until it succeeds.
wait_for() {
    local desc=$1 deadline=$((SECONDS + $2))
    shift 2
    while ! "$@"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            fail "$desc (waited ${deadline}s)"
            return 1
        fi
        sleep 0.1
    done
    ok "$desc"
}

queue_json() { "$NEXALIXCTL" mail queue --json 2>/dev/null; }
queue_length_is() { [ "$(queue_json | jq 'length')" = "$1" ]; }
files_are() { [ "$(count_files "$1")" -eq "$2" ]; }

# restart_daemon_with KEY=VALUE…: nexalixd again with [mail] keys replaced.
restart_daemon_with() {
    nx_daemon_stop
    nx_write_config "$NX_DAEMON_CONF"
    local kv key
    for kv in "$@"; do
        key=${kv%%=*}
        sed -i "/^\[mail\]/,/^\[/{/^$key = /d}" "$NX_DAEMON_CONF"
        sed -i "s|^\[mail\]|[mail]\n$key = ${kv#*=}|" "$NX_DAEMON_CONF"
    done
    nx_daemon_start
}

nx_daemon_start
make_org acme
make_org globex

# ---------------------------------------------------------------------------
nx_log "spool: one file per mail, in the user's language"

ctl user create jose --org acme --first 'José' --last 'Núñez' --email jose@example.com \
    --language es --role member --invite
check_ok "an invited user in Spanish"
ctl user create ana --org acme --first 'Ana' --last 'Conceição' --email ana@example.com \
    --language pt --role member --invite
check_ok "an invited user in Portuguese"
make_user bob acme member
wait_for "three invitations in the spool" 10 files_are "$NX_TMP/mail" 3
wait_for "the outbox empties once they are written" 10 queue_length_is 0
MAILS=$(mails_in "$NX_TMP/mail")
JOSE=$(jq -c 'select(.to | contains("jose@"))' <<<"$MAILS")
ANA=$(jq -c 'select(.to | contains("ana@"))' <<<"$MAILS")
BOB=$(jq -c 'select(.to | contains("bob@"))' <<<"$MAILS")
assert_json "Spanish template, non-ASCII subject decoded" "$JOSE" .subject \
    "Su cuenta de acme está lista: elija su contraseña"
assert_json "the recipient's name, RFC 2047 encoded" "$JOSE" .to "José Núñez <jose@example.com>"
assert_json "From is [mail] from" "$JOSE" .from "nexalix@test.invalid"
assert_json "text/plain" "$JOSE" .content_type "text/plain"
assert_json "charset utf-8" "$JOSE" .charset "utf-8"
assert_json "quoted-printable body" "$JOSE" .cte "quoted-printable"
assert_json "7-bit clean" "$JOSE" .ascii "true"
assert_json "CRLF line ends" "$JOSE" .crlf "true"
assert_json "lines of at most 78 characters" "$JOSE" '.max_line <= 78' "true"
assert_json "the kind is named" "$JOSE" .kind "invite"
assert_contains "Spanish body" "$(jget "$JOSE" .body)" "Hola, José:"
assert_contains "valid 48 hours" "$(jget "$JOSE" .body)" "48 horas"
assert_match "a Date header" "$(jget "$JOSE" .date)" '^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} 20[0-9]{2} '
assert_match "a Message-ID" "$(jget "$JOSE" .message_id)" '^<[0-9a-f]{32}@test\.invalid>$'
assert_eq "the spool file is named after the Message-ID" \
    "$(jget "$JOSE" .message_id | tr -d '<>').eml" "$(basename "$(jget "$JOSE" .path)")"
assert_contains "the link from [links] url" "$(jget "$JOSE" .body)" "https://id.test.invalid/redeem?token="
assert_json "Portuguese template" "$ANA" .subject "Sua conta em acme está pronta: escolha sua senha"
assert_json "English template for the default language" "$BOB" .subject \
    "Your acme account is ready: choose your password"
assert_eq "three different Message-IDs" 3 "$(jq -r .message_id <<<"$MAILS" | sort -u | wc -l)"
assert_eq "no temporary file left in the spool" 0 "$(find "$NX_TMP/mail" -name '.*' -type f | wc -l)"

ctl_input 'new password 1' redeem --password-stdin -- "$(jget "$BOB" .token)"
check_ok "the token in the mail redeems the invitation"
assert_eq "bob is active" active "$(user_field bob state)"

# ---------------------------------------------------------------------------
nx_log "failures wait in the queue with their reason; retry and drop"

mv "$NX_TMP/mail" "$NX_TMP/mail.away"
make_user carol acme member
make_user gina globex member
wait_for "both failed once" 10 \
    bash -c '[ "$("$0" mail queue --json | jq "[.[] | select(.attempts >= 1)] | length")" = 2 ]' "$NEXALIXCTL"
Q=$(queue_json)
CAROL=$(jq -c '.[] | select(.to == "carol@example.com")' <<<"$Q")
assert_json "waiting" "$CAROL" .state waiting
assert_json "its kind" "$CAROL" .kind invite
assert_json "who and where" "$CAROL" '.username + " " + .org' "carol acme"
assert_contains "the last error says why" "$(jget "$CAROL" .last_error)" "$NX_TMP/mail"
assert_json "the next attempt is after the back-off" "$CAROL" '.next_attempt > .last_attempt' true
assert_json "a Message-ID already" "$CAROL" '.message_id | test("^<[0-9a-f]{32}@")' true
ctl mail queue
check_ok "mail queue as a table"
assert_contains "the table names the recipient" "$OUT" "carol@example.com"
assert_contains "and the error" "$OUT" "No such file or directory"

make_active_user admin acme org-admin 'admin password'
ADMIN_UID=$(user_field admin uid)
ctl_as "$ADMIN_UID" "$ADMIN_UID" mail queue --json
check_ok "an org-admin reads the queue"
assert_eq "an org-admin sees their organisation's mail only" "carol@example.com" \
    "$(jget "$OUT" 'map(.to) | join(",")')"
ctl_as "$ADMIN_UID" "$ADMIN_UID" mail drop "$(jget "$(queue_json)" '.[] | select(.username == "gina") | .id')"
check_refused "an org-admin cannot drop another organisation's mail" "no mail .* is waiting"
ctl_as "$(user_field jose uid)" "$(user_field jose uid)" mail queue
check_refused "an invited user cannot read the queue" "permission denied"

ctl mail drop "$(jget "$(queue_json)" '.[] | select(.username == "gina") | .id')"
check_ok "root drops a mail"
ctl audit --limit 5 --json
assert_contains "the drop is audited" "$OUT" "mail.drop"
ctl mail drop 999999
check_refused "an unknown mail" "no mail 999999 is waiting"
ctl mail drop abc
check_rc "a mail id is a number" 2

mv "$NX_TMP/mail.away" "$NX_TMP/mail"
ctl mail retry
check_ok "mail retry"
wait_for "the spool is back: carol's invitation delivered" 10 queue_length_is 0
assert_eq "once" 1 "$(mails_in "$NX_TMP/mail" | jq -r 'select(.to | test("carol@")) | .to' | wc -l)"
assert_eq "and gina's dropped one never" 0 "$(mails_in "$NX_TMP/mail" | jq -r 'select(.to | test("gina@")) | .to' | wc -l)"

# ---------------------------------------------------------------------------
nx_log "an administrator's template, reloaded on SIGHUP"

mkdir -p "$NX_TMP/templates/en"
restart_daemon_with "templates=$NX_TMP/templates"
printf 'Subject: Welcome to {org}, {first_name}!\n\nYour invitation: {link}\n' >"$NX_TMP/templates/en/invite.txt"
kill -HUP "$NX_DAEMON_PID"
sleep 0.5
rm -f "$NX_TMP/mail"/*.eml
make_user dave acme member
wait_for "dave's invitation" 10 files_are "$NX_TMP/mail" 1
DAVE=$(mails_in "$NX_TMP/mail")
assert_json "the override is used" "$DAVE" .subject "Welcome to acme, Dave!"
assert_contains "with the link" "$(jget "$DAVE" .body)" "Your invitation: https://id.test.invalid/redeem?token="

# ---------------------------------------------------------------------------
nx_log "sendmail: a command gets the message on standard input"

cat >"$NX_TMP/fake-sendmail" <<EOF
#!/bin/sh
[ -e "$NX_TMP/sendmail-down" ] && { echo "sendmail: queue unavailable" >&2; exit 75; }
n=\$(date +%s%N)
printf '%s\n' "\$*" >"$NX_TMP/sendmail-args/\$n"
cat >"$NX_TMP/sendmail-out/\$n.eml"
EOF
chmod 0755 "$NX_TMP/fake-sendmail"
mkdir -p "$NX_TMP/sendmail-out" "$NX_TMP/sendmail-args"
touch "$NX_TMP/sendmail-down"
restart_daemon_with "spool=" "sendmail=$NX_TMP/fake-sendmail -t -i"
make_user erin acme member
wait_for "the failing command is in the queue's error" 10 \
    bash -c '"$0" mail queue --json | jq -e "(.[0].last_error // \"\") | test(\"status 75: sendmail: queue unavailable\")" >/dev/null' \
    "$NEXALIXCTL"
rm -f "$NX_TMP/sendmail-down"
kill -HUP "$NX_DAEMON_PID"
wait_for "SIGHUP retries it: delivered" 10 queue_length_is 0
assert_eq "one message through sendmail" 1 "$(count_files "$NX_TMP/sendmail-out")"
assert_eq "sendmail got -t -i" "-t -i" "$(cat "$NX_TMP"/sendmail-args/*)"
assert_json "a whole message" "$(mails_in "$NX_TMP/sendmail-out")" .to \
    "Erin Tester <erin@example.com>"

# ---------------------------------------------------------------------------
nx_log "a real MTA: exim4 on 127.0.0.1"

EXIM=$(command -v exim4 || command -v exim || true)
EXIM_USER=
if [ -n "$EXIM" ]; then
    EXIM_USER=$("$EXIM" -bP exim_user 2>/dev/null | sed -n 's/^exim_user = //p')
    # -bP prints the name from the default configuration; the compiled-in
    # user is what a private configuration runs as.
    id "$EXIM_USER" >/dev/null 2>&1 || EXIM_USER=Debian-exim
    id "$EXIM_USER" >/dev/null 2>&1 || EXIM_USER=
fi

if [ -z "$EXIM" ] || [ -z "$EXIM_USER" ]; then
    printf '# SKIP the MTA part: exim4 is not installed (Debian package exim4-daemon-light; scripts/install-deps.sh)\n'
else
    MTA=$NX_TMP/mta
    MTA_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$MTA/spool" "$MTA/log" "$MTA/maildir"
    chown "$EXIM_USER" "$MTA/spool" "$MTA/log" "$MTA/maildir"
    # Everything private: spool, log, pid file, port; every recipient is
    # delivered into one maildir. With -C exim gives up root and runs as
    # its own user, which owns those directories.
    cat >"$MTA/exim.conf" <<EOF
primary_hostname = mta.test.invalid
spool_directory = $MTA/spool
log_file_path = $MTA/log/%slog
pid_file_path = $MTA/exim.pid
daemon_smtp_ports = $MTA_PORT
local_interfaces = 127.0.0.1
keep_environment =
tls_advertise_hosts =
host_lookup =
rfc1413_hosts =
never_users =
acl_smtp_rcpt = accept_all
begin acl
accept_all:
  accept
begin routers
everything:
  driver = accept
  transport = to_maildir
begin transports
to_maildir:
  driver = appendfile
  directory = $MTA/maildir
  maildir_format
  create_directory
  user = $EXIM_USER
  envelope_to_add
  return_path_add
EOF
    MTA_PID=
    mta_start() {
        "$EXIM" -C "$MTA/exim.conf" -bdf -odi >>"$MTA/exim.out" 2>&1 </dev/null &
        MTA_PID=$!
        NX_BG_PIDS+=("$MTA_PID")
        local deadline=$((SECONDS + 10))
        until (exec 3<>"/dev/tcp/127.0.0.1/$MTA_PORT") 2>/dev/null; do
            nx_pid_gone "$MTA_PID" && { fail "exim started" "$(cat "$MTA/exim.out" "$MTA"/log/* 2>/dev/null)"; return 1; }
            [ "$SECONDS" -ge "$deadline" ] && { fail "exim listens on port $MTA_PORT"; return 1; }
            sleep 0.1
        done
        ok "exim (pid $MTA_PID) listens on 127.0.0.1:$MTA_PORT"
    }
    mta_stop() {
        nx_kill_and_reap "$MTA_PID"
        MTA_PID=
    }
    maildir_count() { count_files "$MTA/maildir/new"; }
    maildir_is() { [ "$(maildir_count)" -eq "$1" ]; }

    mta_start
    restart_daemon_with "spool=" "smtp=127.0.0.1:$MTA_PORT"
    make_user frank acme member --language es
    wait_for "frank's invitation reaches the maildir through SMTP" 15 maildir_is 1
    FRANK=$(mails_in "$MTA/maildir/new")
    assert_json "delivered to frank" "$FRANK" .to "Frank Tester <frank@example.com>"
    assert_json "Spanish, decoded after a real MTA" "$FRANK" .subject \
        "Su cuenta de acme está lista: elija su contraseña"
    assert_match "the MTA added its Received header" "$(cat "$MTA"/maildir/new/*)" '^Received: from .*127\.0\.0\.1'
    assert_contains "the MTA logged the delivery" "$(cat "$MTA/log/mainlog")" "frank@example.com"
    assert_ne "a token in the delivered mail" "null" "$(jget "$FRANK" .token)"
    ctl_input 'frank password 1' redeem --password-stdin -- "$(jget "$FRANK" .token)"
    check_ok "the token read out of the MTA's mail store redeems the invitation"
    assert_eq "frank is active" active "$(user_field frank state)"

    nx_log "the crash test: MTA down, 3 mails, kill -9, restart, MTA up"
    mta_stop
    rm -f "$MTA"/maildir/new/*
    for u in hank iris jack; do make_user "$u" acme member; done
    wait_for "all three failed at least once" 10 \
        bash -c '[ "$("$0" mail queue --json | jq "[.[] | select(.attempts >= 1)] | length")" = 3 ]' "$NEXALIXCTL"
    Q=$(queue_json)
    assert_eq "three waiting" "waiting waiting waiting" "$(jq -r '[.[].state] | join(" ")' <<<"$Q")"
    assert_contains "the last error: the MTA refuses connections" "$(jq -r '.[0].last_error' <<<"$Q")" \
        "cannot connect to 127.0.0.1 port $MTA_PORT"
    IDS_BEFORE=$(jq -r '[.[].message_id] | sort | join(" ")' <<<"$Q")
    nx_daemon_kill9
    nx_daemon_start
    assert_eq "after kill -9 the outbox still holds the same three mails" "$IDS_BEFORE" \
        "$(queue_json | jq -r '[.[].message_id] | sort | join(" ")')"
    mta_start
    ctl mail retry
    check_ok "mail retry once the MTA is up"
    wait_for "the outbox empties" 20 queue_length_is 0
    sleep 1
    AFTER=$(mails_in "$MTA/maildir/new")
    assert_eq "exactly three mails arrived" 3 "$(jq -r .message_id <<<"$AFTER" | wc -l)"
    assert_eq "each exactly once, with the Message-IDs queued before the crash" "$IDS_BEFORE" \
        "$(jq -r .message_id <<<"$AFTER" | sort | xargs)"
    assert_eq "to hank, iris and jack" "hank@example.com iris@example.com jack@example.com" \
        "$(jq -r '.to | capture("<(?<a>[^>]+)>").a' <<<"$AFTER" | sort | xargs)"

    nx_log "queued, killed before any attempt, delivered once after the restart"
    nx_daemon_stop
    # A spool directory that is not there holds delivery back without a
    # daemon: queue while the mail cannot go, kill, then start with the MTA.
    restart_daemon_with "spool=$NX_TMP/nowhere"
    make_user kate acme member
    nx_daemon_kill9
    rm -f "$MTA"/maildir/new/*
    restart_daemon_with "spool=" "smtp=127.0.0.1:$MTA_PORT"
    wait_for "kate's invitation arrives after the restart" 15 maildir_is 1
    sleep 1
    assert_eq "exactly once" 1 "$(maildir_count)"
    mta_stop
fi

assert_daemon_alive "after all of it"
nx_finish
