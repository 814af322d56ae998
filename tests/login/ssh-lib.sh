# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# The set-up shared by the tests that log in over a real sshd (test-ssh.sh,
# test-ssh-2fa.sh). A test sources ../integration/lib.sh, then this file,
# and then:
#
#   ssh_enter_namespace "$@"   before any set-up: checks the preconditions and
#                              re-executes the script in a private mount
#                              namespace (returns only inside it)
#   ssh_setup                  nx_init, the private host files, the expect
#                              script, the bus and nexalixd's configuration
#   nx_daemon_start            (lib.sh; a test that needs NX_DAEMON_PREFIX
#                              sets it before)
#   make_active_user …, make_home USER, add_key USER
#   start_sshd
#
# Inside the namespace, ssh_setup bind-mounts its own /etc/pam.d (sshd,
# passwd, su, su-l, login, and `other` denying everything),
# /etc/nsswitch.conf (`passwd: files nexalix`), /etc/passwd, /etc/group and
# /etc/shadow (the host's plus a local user nxlocal, and a known root
# password), an ld.so.cache that finds the built libnss_nexalix.so.2, and the
# daemon's runtime directory over /run/nexalix. The host's files are only
# read. One sshd (127.0.0.1, a free port, UsePAM, keyboard-interactive,
# password and public-key authentication) serves the whole test; an ssh
# client driven by expect answers the prompts. Root only; skips with a
# message otherwise.

PATH=$PATH:/usr/sbin:/sbin
SSH_TIMEOUT=${SSH_TIMEOUT:-20}

# The private host: root's password, a local account.
ROOT_PW='root ssh password 1'
LOCAL_PW='nxlocal password 1'
LOCAL_UID=298215

RUNTIME=
SSHD_PID=
SSH_PORT=

# ---------------------------------------------------------------------------
# Outside the namespace: preconditions, then the re-exec.

# ssh_enter_namespace ARGS…: call with the script's arguments. Outside the
# namespace it skips when something is missing and otherwise re-executes the
# script inside a new one (it does not return); inside, it returns at once.
ssh_enter_namespace() {
    local t
    [ "${NX_SSH_IN_NAMESPACE:-}" = 1 ] && return 0
    [ "$(id -u)" = 0 ] ||
        nx_skip "$NX_TEST_NAME needs root: it runs sshd in a private mount namespace with its own /etc/pam.d, nsswitch.conf, passwd and shadow"
    for t in sshd ssh ssh-keygen expect unshare ldconfig openssl; do
        command -v "$t" >/dev/null 2>&1 || nx_skip "$t is not installed (needed for end-to-end ssh logins)"
    done
    [ -r "${NEXALIX_PAM_MODULE:-}" ] || nx_die "NEXALIX_PAM_MODULE does not name the built pam_nexalix.so"
    [ -r "${NEXALIX_NSS_DIR:-}/libnss_nexalix.so.2" ] ||
        nx_die "NEXALIX_NSS_DIR does not hold the built libnss_nexalix.so.2"
    unshare --mount --propagation private true 2>/dev/null ||
        nx_skip "cannot create a mount namespace here"
    NX_SSH_IN_NAMESPACE=1 exec unshare --mount --propagation private bash "$0" "$@"
}

# ---------------------------------------------------------------------------
# Inside the namespace: the host's configuration, privately.

hash_password() {
    openssl passwd -6 -stdin <<<"$1"
}

# The PAM stack of docs (CLI.md "Host integration"): Nexalix first, so that a
# local account and an unreachable daemon fall through to pam_unix.
write_pam_service() {
    local file=$NX_TMP/etc/pam.d/$1 rootok=${2:-} m="$NEXALIX_PAM_MODULE runtime=$RUNTIME"
    local ctl='[success=done user_unknown=ignore authinfo_unavail=ignore default=die]'
    {
        printf '# written by %s\n' "$NX_TEST_NAME"
        [ -n "$rootok" ] && printf 'auth     sufficient pam_rootok.so\n'
        printf 'auth     %s %s\n' "$ctl" "$m"
        printf 'auth     required pam_unix.so\n'
        printf 'account  %s %s\n' "$ctl" "$m"
        printf 'account  required pam_unix.so\n'
        printf 'password %s %s\n' "$ctl" "$m"
        printf 'password required pam_unix.so yescrypt\n'
        printf 'session  optional %s\n' "$m"
        printf 'session  required pam_unix.so\n'
    } >"$file"
}

setup_host_files() {
    local e=$NX_TMP/etc root_hash local_hash
    write_pam_service sshd
    write_pam_service passwd
    write_pam_service login
    write_pam_service su rootok
    # util-linux su uses the su-l service for `su -`.
    write_pam_service su-l rootok
    printf 'auth required pam_deny.so\naccount required pam_deny.so\npassword required pam_deny.so\nsession required pam_deny.so\n' \
        >"$e/pam.d/other"

    printf 'passwd: files nexalix\ngroup: files nexalix\nshadow: files\nhosts: files\n' >"$e/nsswitch.conf"

    root_hash=$(hash_password "$ROOT_PW") || nx_die "openssl passwd -6 failed"
    local_hash=$(hash_password "$LOCAL_PW") || nx_die "openssl passwd -6 failed"
    cp /etc/passwd "$e/passwd"
    printf 'nxlocal:x:%d:%d:Nexalix local test user:%s:/bin/bash\n' "$LOCAL_UID" "$LOCAL_UID" \
        "$NX_TMP/home/nxlocal" >>"$e/passwd"
    cp /etc/group "$e/group"
    printf 'nxlocal:x:%d:\n' "$LOCAL_UID" >>"$e/group"
    awk -F: -v OFS=: -v h="$root_hash" '$1 == "root" { $2 = h } { print }' /etc/shadow >"$e/shadow"
    grep -q '^root:' "$e/shadow" || printf 'root:%s:19000:0:99999:7:::\n' "$root_hash" >>"$e/shadow"
    printf 'nxlocal:%s:19000:0:99999:7:::\n' "$local_hash" >>"$e/shadow"
    chmod 0644 "$e/passwd" "$e/group" "$e/nsswitch.conf"
    chmod 0640 "$e/shadow"
    chown root:shadow "$e/shadow" 2>/dev/null || true

    # glibc in sshd and in the user's shell must find libnss_nexalix.so.2
    # without LD_LIBRARY_PATH (sshd gives sessions a clean environment, and
    # setuid programs ignore it): a private cache with the build directory
    # first, so that it wins over any installed copy. -X: no links are
    # created in the build directory.
    {
        printf '%s\n' "$NEXALIX_NSS_DIR"
        printf 'include /etc/ld.so.conf.d/*.conf\n'
        printf '/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu\n/lib\n/usr/lib\n'
    } >"$e/ld.so.conf"
    ldconfig -X -C "$e/ld.so.cache" -f "$e/ld.so.conf" 2>"$NX_TMP/ldconfig.log" ||
        nx_die "ldconfig failed: $(cat "$NX_TMP/ldconfig.log")"

    local f
    for f in pam.d nsswitch.conf passwd group shadow ld.so.cache; do
        mount --bind "$e/$f" "/etc/$f" || nx_die "bind mount over /etc/$f failed"
    done
    # These directories are created on the host's /run when missing (as the
    # sshd and nexalix packages would); only the namespace sees the mount.
    mkdir -p /run/nexalix /run/sshd || nx_die "cannot create /run/nexalix or /run/sshd"
    chmod 0755 /run/sshd
    mount --bind "$RUNTIME" /run/nexalix || nx_die "bind mount over /run/nexalix failed"

    mkdir -p "$NX_TMP/home/nxlocal"
    chown "$LOCAL_UID:$LOCAL_UID" "$NX_TMP/home/nxlocal"
}

# --- expect: answers prompts, prints what it saw ----------------------------

write_expect_script() {
    cat >"$NX_TMP/answer.exp" <<'EOF'
# expect -f answer.exp TIMEOUT [OPTION…] PROMPT ANSWER [PROMPT ANSWER…] -- COMMAND [ARG…]
# Runs COMMAND on a terminal, waits for each PROMPT (a fixed string) in turn
# and types its ANSWER, then waits for the end. Everything COMMAND wrote is
# copied to standard output; the exit status is COMMAND's (124 on timeout).
# A line starting with "NX-EXPECT:" says when a prompt never came.
# Options:
#   -key-code-at TIME   an ANSWER of "@key-code" is typed as the TOTP code at
#                       TIME (oathtool --totp -b --now TIME) of the last
#                       "Key: BASE32" COMMAND wrote so far: the code an app
#                       shows once it has the key the login showed.
#   -gate PROMPT READY GO
#                       on PROMPT, create the file READY and wait for the file
#                       GO (at most TIMEOUT seconds) before answering: lets
#                       several logins answer at the same moment.
set timeout [lindex $argv 0]
set key_code_at ""
set gate_prompt ""
set i 1
while {$i < [llength $argv]} {
    set word [lindex $argv $i]
    if {$word eq "-key-code-at"} {
        set key_code_at [lindex $argv [expr {$i + 1}]]
        incr i 2
    } elseif {$word eq "-gate"} {
        set gate_prompt [lindex $argv [expr {$i + 1}]]
        set gate_ready [lindex $argv [expr {$i + 2}]]
        set gate_go [lindex $argv [expr {$i + 3}]]
        incr i 4
    } else {
        break
    }
}
set pairs {}
while {$i < [llength $argv] && [lindex $argv $i] ne "--"} {
    lappend pairs [lindex $argv $i] [lindex $argv [expr {$i + 1}]]
    incr i 2
}
set command [lrange $argv [expr {$i + 1}] end]
log_user 1
proc finish {} {
    set st [wait]
    if {[llength $st] > 4} { exit [expr {128 + 9}] }
    exit [lindex $st 3]
}
proc give_up {why} {
    puts "\nNX-EXPECT: $why"
    close
    wait
    exit 124
}
# Everything COMMAND wrote up to the last prompt matched.
set seen ""
spawn -noecho {*}$command
foreach {prompt answer} $pairs {
    expect {
        -ex $prompt {
            append seen $expect_out(buffer)
            if {$prompt eq $gate_prompt} {
                close [open $gate_ready w]
                set deadline [expr {[clock milliseconds] + 1000 * $timeout}]
                while {![file exists $gate_go]} {
                    if {[clock milliseconds] > $deadline} { give_up "gate $gate_go never opened" }
                    after 10
                }
            }
            if {$key_code_at ne "" && $answer eq "@key-code"} {
                if {![regexp {.*Key: ([A-Z2-7]+)} $seen -> key]} { give_up "no key shown before: $prompt" }
                if {[catch {exec oathtool --totp -b --now $key_code_at $key} answer]} {
                    give_up "oathtool failed: $answer"
                }
            }
            send -- "$answer\r"
        }
        timeout { give_up "timed out waiting for: $prompt" }
        eof { puts "\nNX-EXPECT: ended before: $prompt"; finish }
    }
}
expect {
    eof { finish }
    timeout { give_up "timed out waiting for the end" }
}
EOF
}

# nx_expect [OPTION…] PROMPT ANSWER … -- CMD…: runs CMD under expect (options
# and pairs as answer.exp takes them); sets RC, OUT (terminal output without
# carriage returns), ERR (empty). Its files are per shell process, so that
# logins may run in background subshells at the same time.
nx_expect() {
    local out=$NX_TMP/.expect-out.$BASHPID err=$NX_TMP/.expect-err.$BASHPID
    [ "${NX_VERBOSE:-0}" = 1 ] && printf '# $ expect %s\n' "$*"
    timeout -k 5 $((SSH_TIMEOUT + 10)) expect -f "$NX_TMP/answer.exp" "$SSH_TIMEOUT" "$@" \
        >"$out" 2>"$err" </dev/null
    RC=$?
    OUT=$(tr -d '\r' <"$out")
    # shellcheck disable=SC2034 # read by the tests and nx_last (lib.sh)
    ERR=$(cat "$err")
    rm -f "$out" "$err"
    # shellcheck disable=SC2034 # read by nx_last (lib.sh)
    NX_LAST_CMD="expect $*"
}

# --- sshd and the ssh client ------------------------------------------------

start_sshd() {
    local port conf=$NX_TMP/ssh/sshd_config log=$NX_TMP/sshd.log deadline
    ssh-keygen -q -t ed25519 -N '' -C nx-host -f "$NX_TMP/ssh/host_ed25519" </dev/null ||
        nx_die "ssh-keygen failed"
    for _ in 1 2 3 4 5; do
        port=$((20000 + RANDOM % 40000))
        cat >"$conf" <<EOF
ListenAddress 127.0.0.1
Port $port
HostKey $NX_TMP/ssh/host_ed25519
PidFile $NX_TMP/ssh/sshd.pid
UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication yes
PubkeyAuthentication yes
AuthorizedKeysFile $NX_TMP/keys/%u
StrictModes no
PermitRootLogin yes
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
LoginGraceTime 60
MaxStartups 50:30:100
LogLevel VERBOSE
EOF
        /usr/sbin/sshd -t -f "$conf" 2>"$NX_TMP/sshd-t.log" || nx_die "sshd -t: $(cat "$NX_TMP/sshd-t.log")"
        : >"$log"
        "$(command -v sshd)" -D -e -f "$conf" >>"$log" 2>&1 </dev/null &
        SSHD_PID=$!
        NX_BG_PIDS+=("$SSHD_PID")
        deadline=$((SECONDS + 10))
        while ! grep -q "Server listening on 127.0.0.1 port $port" "$log"; do
            nx_pid_gone "$SSHD_PID" && break
            [ "$SECONDS" -ge "$deadline" ] && nx_die "sshd did not listen within 10 s: $(cat "$log")"
            sleep 0.05
        done
        if ! nx_pid_gone "$SSHD_PID"; then
            SSH_PORT=$port
            nx_log "sshd (pid $SSHD_PID) on 127.0.0.1 port $port"
            return 0
        fi
        wait "$SSHD_PID" 2>/dev/null
        nx_log "sshd could not use port $port: $(tail -n 2 "$log" | tr '\n' ' ')"
    done
    nx_die "sshd did not start: $(cat "$log")"
}

# ssh_base: the words of an ssh client with no configuration of its own. It
# runs in a UTF-8 locale, as a user's terminal does: in the C locale ssh
# shows every byte beyond ASCII of a prompt or banner as an octal escape.
ssh_base() {
    printf '%s\n' env LC_ALL=C.UTF-8 ssh -F /dev/null -p "$SSH_PORT" \
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null \
        -o ConnectTimeout=10 -o ServerAliveInterval=5 -o ServerAliveCountMax=2 -o LogLevel=INFO \
        -o IdentityAgent=none
}

# ssh_password USER PASSWORD CMD…: a keyboard-interactive login answering
# one prompt with PASSWORD (one try only), running CMD.
ssh_password() {
    local user=$1 password=$2
    shift 2
    local base
    mapfile -t base < <(ssh_base)
    nx_expect "assword:" "$password" -- "${base[@]}" -T \
        -o PreferredAuthentications=keyboard-interactive -o PubkeyAuthentication=no \
        -o NumberOfPasswordPrompts=1 "$user@127.0.0.1" "$@"
}

# ssh_method METHOD USER PASSWORD CMD…: as ssh_password with another method.
ssh_method() {
    local method=$1 user=$2 password=$3
    shift 3
    local base
    mapfile -t base < <(ssh_base)
    nx_expect "assword:" "$password" -- "${base[@]}" -T \
        -o PreferredAuthentications="$method" -o PubkeyAuthentication=no \
        -o NumberOfPasswordPrompts=1 "$user@127.0.0.1" "$@"
}

# ssh_conversation -t|-T USER [OPTION…] PROMPT ANSWER … -- CMD…: a
# keyboard-interactive login (one try), with or without a terminal for the
# session, answering every PROMPT in turn (options: see answer.exp).
ssh_conversation() {
    local tty=$1 user=$2
    shift 2
    local words=() base
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        words+=("$1")
        shift
    done
    shift
    mapfile -t base < <(ssh_base)
    nx_expect "${words[@]}" -- "${base[@]}" "$tty" \
        -o PreferredAuthentications=keyboard-interactive -o PubkeyAuthentication=no \
        -o NumberOfPasswordPrompts=1 "$user@127.0.0.1" "$@"
}

# ssh_tty USER PROMPT ANSWER … -- CMD…: on a terminal (ssh -t).
ssh_tty() {
    ssh_conversation -t "$@"
}

# ssh_kbdint USER PROMPT ANSWER … -- CMD…: without a terminal (ssh -T).
ssh_kbdint() {
    ssh_conversation -T "$@"
}

# ssh_key_cmd USER: the words of a public-key-only, non-interactive login.
ssh_key_cmd() {
    ssh_base
    printf '%s\n' -T -n -o BatchMode=yes -o PreferredAuthentications=publickey -o IdentitiesOnly=yes \
        -i "$NX_TMP/client/id_$1" "$1@127.0.0.1"
}

# ssh_key USER CMD…: nx_run of a public-key login.
ssh_key() {
    local user=$1 words
    shift
    mapfile -t words < <(ssh_key_cmd "$user")
    nx_run "${words[@]}" "$@"
}

# add_key USER: a client key pair, authorised for USER.
add_key() {
    ssh-keygen -q -t ed25519 -N '' -C "$1" -f "$NX_TMP/client/id_$1" </dev/null || nx_die "ssh-keygen for $1"
    cp "$NX_TMP/client/id_$1.pub" "$NX_TMP/keys/$1"
    chmod 0644 "$NX_TMP/keys/$1"
}

# make_home USER: the home directory the daemon's configuration gives USER,
# owned by the user, so that sshd can chdir there.
make_home() {
    local uid gid
    uid=$(user_field "$1" uid)
    gid=$(user_field "$1" gid)
    [[ "$uid" =~ ^[0-9]+$ && "$gid" =~ ^[0-9]+$ ]] || nx_die "no uid/gid for $1: '$uid' '$gid'"
    mkdir -p "$NX_TMP/home/$1"
    chown "$uid:$gid" "$NX_TMP/home/$1"
    chmod 0700 "$NX_TMP/home/$1"
}

# login_ok DESCRIPTION USER PASSWORD: a password login runs `id -un` and
# prints the user's name.
login_ok() {
    local desc=$1 user=$2 password=$3
    ssh_password "$user" "$password" id -un
    if [ "$RC" -eq 0 ] && grep -qx "$user" <<<"$OUT"; then
        ok "$desc"
    else
        fail "$desc" "expected exit 0 and '$user' from id -un" "$(nx_last)" \
            "sshd log: $(tail -n 8 "$NX_TMP/sshd.log")"
    fi
}

# login_refused DESCRIPTION USER PASSWORD [ERE]: the login fails (ssh exits
# 255, no command output) and, given ERE, the client showed a matching message.
login_refused() {
    local desc=$1 user=$2 password=$3 re=${4:-}
    ssh_password "$user" "$password" echo NX-COMMAND-RAN
    if [ "$RC" -ne 255 ] || grep -q NX-COMMAND-RAN <<<"$OUT"; then
        fail "$desc" "expected ssh to exit 255 without running the command" "$(nx_last)"
        return
    fi
    if [ -n "$re" ] && ! grep -Eiq -- "$re" <<<"$OUT"; then
        fail "$desc: the client is told why" "expected to match: $re" "$(nx_last)"
        return
    fi
    ok "$desc${re:+ (client saw: \"$(grep -Ei -- "$re" <<<"$OUT" | head -n 1 | head -c 120)\")}"
}

now_ms() { date +%s%3N; }

# log_mark, log_since: the daemon's log lines written since the mark.
LOG_MARK=0
log_mark() { LOG_MARK=$(wc -l <"$NX_DAEMON_LOG"); }
log_since() { tail -n +"$((LOG_MARK + 1))" "$NX_DAEMON_LOG"; }

# ---------------------------------------------------------------------------
# ssh_setup: nx_init, the private host files, the expect script, the bus,
# and a configuration for nexalixd that gives users a real shell (sessions
# need one; the test default is nologin). The test starts the daemon itself
# (nx_daemon_start): it may need a prefix.
ssh_setup() {
    nx_init
    NEXALIX_PAM_MODULE=$(readlink -f "$NEXALIX_PAM_MODULE")
    NEXALIX_NSS_DIR=$(readlink -f "$NEXALIX_NSS_DIR")
    RUNTIME=$NX_TMP/run
    mkdir -p "$RUNTIME" "$NX_TMP/etc" "$NX_TMP/etc/pam.d" "$NX_TMP/home" "$NX_TMP/keys" \
        "$NX_TMP/client" "$NX_TMP/ssh"
    chmod 0755 "$RUNTIME" "$NX_TMP/home" "$NX_TMP/keys"
    setup_host_files
    write_expect_script
    nx_bus_start main
    NX_DAEMON_CONF=$NX_TMP/nexalixd.conf
    nx_write_config "$NX_DAEMON_CONF"
    sed -i 's|^shell = .*|shell = /bin/bash|' "$NX_DAEMON_CONF"
}
