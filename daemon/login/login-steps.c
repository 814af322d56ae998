/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a login conversation asks and answers (docs/login.md): the rules of
 * who may ask about whom, each PAM stage, and the prompts as a table of
 * steps. Passwords are checked and hashed on the worker pool; every check
 * records its outcome (the failed-login counter) in one write transaction
 * with the re-check of the back-off. */

#include "apitoken.h"
#include "backoff.h"
#include "conversation.h"
#include "local-accounts.h"
#include "log.h"
#include "login-text.h"
#include "macro.h"
#include "password.h"
#include "processes.h"
#include "org.h"
#include "qr-text.h"
#include "session.h"
#include "totp.h"
#include "user.h"
#include "worker.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A user may retype a refused new password this many times. */
#define NEW_PASSWORD_TRIES 3

static void say(conversation *c, login_message_style style, login_text t) {
        conversation_message(c, style, login_text_get(c->language, t));
}

static void say_backed_off(conversation *c, uint64_t until, uint64_t now) {
        char text[256];

        login_text_backed_off(c->language, (unsigned) (until > now ? until - now : 1), text, sizeof(text));
        conversation_message(c, LOGIN_MESSAGE_ERROR, text);
}

static const char *peer_description(const conversation *c) {
        return c->rhost ? c->rhost : c->tty ? c->tty : "local";
}

/* ---- the steps ---- */

typedef void (*answered_fn)(conversation *c, const char *answer);

static void password_answered(conversation *c, const char *answer);
static void old_password_answered(conversation *c, const char *answer);
static void new_password_answered(conversation *c, const char *answer);
static void new_password_again_answered(conversation *c, const char *answer);
static void code_answered(conversation *c, const char *answer);
static void enrol_code_answered(conversation *c, const char *answer);
static void continue_answered(conversation *c, const char *answer);

static const struct {
        login_prompt_kind kind;
        login_prompt_style style;
        login_text text;
        answered_fn answered;
} steps[_STEP_MAX] = {
        [STEP_PASSWORD] = { LOGIN_ASK_PASSWORD, LOGIN_PROMPT_ECHO_OFF, TEXT_PASSWORD, password_answered },
        [STEP_OLD_PASSWORD] = { LOGIN_ASK_OLD_PASSWORD, LOGIN_PROMPT_ECHO_OFF, TEXT_CURRENT_PASSWORD,
                                old_password_answered },
        [STEP_NEW_PASSWORD] = { LOGIN_ASK_NEW_PASSWORD, LOGIN_PROMPT_ECHO_OFF, TEXT_NEW_PASSWORD,
                                new_password_answered },
        [STEP_NEW_PASSWORD_AGAIN] = { LOGIN_ASK_NEW_PASSWORD_AGAIN, LOGIN_PROMPT_ECHO_OFF, TEXT_RETYPE_PASSWORD,
                                      new_password_again_answered },
        /* Codes are asked with echo: they are worthless once used, and sshd's
         * password method, which answers every hidden prompt with the
         * password, then fails at once instead of counting the password as
         * a wrong code. */
        [STEP_CODE] = { LOGIN_ASK_CODE, LOGIN_PROMPT_ECHO_ON, TEXT_CODE, code_answered },
        [STEP_ENROL_CODE] = { LOGIN_ASK_CODE, LOGIN_PROMPT_ECHO_ON, TEXT_ENROL_CODE, enrol_code_answered },
        [STEP_CONTINUE] = { LOGIN_ASK_OTHER, LOGIN_PROMPT_ECHO_ON, TEXT_CONTINUE, continue_answered },
};

static void ask(conversation *c, login_step step) {
        /* The first password prompt is the same in every language: a prompt
         * in the user's would tell that the account exists. */
        const char *language = step == STEP_PASSWORD ? NULL : c->language;

        conversation_prompt(c, step, steps[step].style, steps[step].kind,
                            login_text_get(language, steps[step].text));
}

void login_steps_answer(conversation *c, const char *answer) {
        login_step step = c->waiting;

        c->waiting = STEP_NONE;
        if (!answer) {
                /* The user gave up (Ctrl-D) or the host's conversation failed. */
                conversation_finish(c, LOGIN_ABORT, NULL);
                return;
        }
        steps[step].answered(c, answer);
}

/* ---- who the conversation is about ---- */

/* Loads the user the conversation is about, if Nexalix has one by that name
 * that no local account shadows (by name or by uid: the local account wins
 * everywhere). -ENOENT otherwise. */
static int load_subject(conversation *c, op *o, user *ret) {
        local_accounts *local = c->services->accounts->local;
        int r;

        /* An account added a moment ago counts; when the files cannot be
         * read, nothing is taken for a Nexalix user (pam_unix decides). */
        if (local_accounts_refresh(local) < 0 || local_accounts_has_name(local, c->username))
                return -ENOENT;
        r = user_load(o->txn, c->username, ret);
        if (r < 0)
                return r;
        if (local_accounts_has_id(local, ret->uid)) {
                user_done(ret);
                return -ENOENT;
        }
        return 0;
}

/* The peer rule: root (sshd, login, su's setuid side) may ask about anyone;
 * any other uid only about itself, so the socket is no oracle for other
 * users' passwords. Changing a password also needs the program to run for
 * root or for the user (passwd started by bob may not change alice's). */
static bool peer_may_ask(const conversation *c) {
        if (c->peer_uid != 0 && c->peer_uid != c->uid)
                return false;
        if ((c->stage == LOGIN_STAGE_PASSWORD || c->stage == LOGIN_STAGE_PASSWORD_CHECK) &&
            c->requester != 0 && c->requester != c->uid)
                return false;
        return true;
}

/* Messages for a refused account, in the user's language. */
static const login_text refusal_texts[] = {
        [LOGIN_REFUSED_INVITED] = TEXT_NOT_ACTIVATED,
        [LOGIN_REFUSED_DEACTIVATED] = TEXT_DEACTIVATED,
        [LOGIN_REFUSED_NO_LOGIN_ROLE] = TEXT_NO_LOGIN,
};

static void open_session(conversation *c, op *o);
static void close_session(conversation *c, op *o);

typedef struct second_factor_state {
        bool enabled, required, hint;
} second_factor_state;
static int second_factor_state_get(conversation *c, second_factor_state *ret);

void login_steps_begin(conversation *c) {
        _cleanup_(user_done) user u = {};
        second_factor_state st;
        login_refusal refusal;
        nx_error error = {};
        op o;
        int r;

        if (validate_username(c->username, NULL) < 0) {
                conversation_finish(c, LOGIN_USER_UNKNOWN, NULL);
                return;
        }
        r = op_begin(c->services->accounts, c->requester, false, &error, &o);
        if (r < 0) {
                log_warning_errno(r, "Login for %s: cannot read the store: %m", c->username);
                conversation_finish(c, LOGIN_SYSTEM_ERR, NULL);
                return;
        }
        r = load_subject(c, &o, &u);
        if (r < 0 && r != -ENOENT) {
                op_abort(&o);
                log_warning_errno(r, "Login for %s: cannot load the user: %m", c->username);
                conversation_finish(c, LOGIN_SYSTEM_ERR, NULL);
                return;
        }
        c->known = r >= 0;
        if (c->known) {
                c->uid = u.uid;
                snprintf(c->language, sizeof(c->language), "%s", strempty(u.language));
        }
        refusal = c->known ? user_login_refusal(&u) : LOGIN_ALLOWED;
        op_abort(&o);

        if (!c->known) {
                /* Not a Nexalix user. A password is still asked for a name
                 * that nobody has, exactly as for a user (the same prompt,
                 * the same time spent checking it); a local account's name is
                 * left to pam_unix at once, as is any question from a
                 * non-root peer (unix_chkpwd's rules apply there). */
                if (c->stage == LOGIN_STAGE_AUTH && c->peer_uid == 0 &&
                    !local_accounts_has_name(c->services->accounts->local, c->username)) {
                        ask(c, STEP_PASSWORD);
                        return;
                }
                conversation_finish(c, LOGIN_USER_UNKNOWN, NULL);
                return;
        }
        if (!peer_may_ask(c)) {
                log_notice("Login socket: uid %u (pid %u) may not ask about %s", c->peer_uid, c->peer_pid,
                           c->username);
                conversation_finish(c, LOGIN_PERM_DENIED, NULL);
                return;
        }

        switch (c->stage) {
        case LOGIN_STAGE_AUTH:
                ask(c, STEP_PASSWORD);
                return;

        case LOGIN_STAGE_ACCOUNT:
                /* sshd runs this stage for public-key logins too: a
                 * deactivated user's key opens nothing. */
                if (refusal != LOGIN_ALLOWED) {
                        say(c, LOGIN_MESSAGE_ERROR, refusal_texts[refusal]);
                        log_notice("Refused %s via %s from %s: %s", c->username, strempty(c->service),
                                   peer_description(c),
                                   refusal == LOGIN_REFUSED_NO_LOGIN_ROLE ? "no role grants login" :
                                   refusal == LOGIN_REFUSED_INVITED ? "not activated" : "deactivated");
                        conversation_finish(c, refusal == LOGIN_REFUSED_NO_LOGIN_ROLE ? LOGIN_PERM_DENIED
                                                                                      : LOGIN_ACCT_EXPIRED, NULL);
                        return;
                }
                /* A login that skipped auth (an SSH key) cannot enrol a
                 * second factor: it is refused until a password login has. */
                r = second_factor_state_get(c, &st);
                if (r < 0) {
                        conversation_finish(c, LOGIN_SYSTEM_ERR, NULL);
                        return;
                }
                if (st.required && !st.enabled) {
                        say(c, LOGIN_MESSAGE_ERROR, TEXT_MUST_ENROL);
                        log_notice("Refused %s via %s from %s: two-factor authentication required, not set up",
                                   c->username, strempty(c->service), peer_description(c));
                        conversation_finish(c, LOGIN_PERM_DENIED, NULL);
                        return;
                }
                conversation_finish(c, LOGIN_SUCCESS, NULL);
                return;

        case LOGIN_STAGE_PASSWORD_CHECK:
        case LOGIN_STAGE_PASSWORD:
                /* An invited user sets a first password through the
                 * invitation link; a deactivated one has nothing to change. */
                if (refusal == LOGIN_REFUSED_INVITED || refusal == LOGIN_REFUSED_DEACTIVATED) {
                        say(c, LOGIN_MESSAGE_ERROR, refusal_texts[refusal]);
                        conversation_finish(c, LOGIN_AUTHTOK_ERR, NULL);
                        return;
                }
                if (c->stage == LOGIN_STAGE_PASSWORD_CHECK)
                        conversation_finish(c, LOGIN_SUCCESS, NULL);
                else
                        ask(c, c->requester == 0 ? STEP_NEW_PASSWORD : STEP_OLD_PASSWORD);
                return;

        case LOGIN_STAGE_SESSION_OPEN:
        case LOGIN_STAGE_SESSION_CLOSE:
                r = op_begin(c->services->accounts, c->requester, true, &error, &o);
                if (r < 0) {
                        conversation_finish(c, LOGIN_SESSION_ERR, NULL);
                        return;
                }
                if (c->stage == LOGIN_STAGE_SESSION_OPEN)
                        open_session(c, &o);
                else
                        close_session(c, &o);
                return;

        default:
                conversation_finish(c, LOGIN_SYSTEM_ERR, NULL);
                return;
        }
}

/* ---- sessions ---- */

static void open_session(conversation *c, op *o) {
        char id[SESSION_ID_LENGTH + 1];
        int r;

        /* The process that opens the session (sshd's monitor, login, su)
         * is the one to end with it; one gone already opens nothing. */
        if (c->peer_start == 0) {
                op_abort(o);
                conversation_finish(c, LOGIN_SESSION_ERR, NULL);
                return;
        }
        r = session_reap(o, c->username, process_alive, NULL);
        if (r >= 0)
                r = session_open(o, c->username, c->peer_pid, c->peer_start, c->service, c->tty, c->rhost, id);
        if (r >= 0)
                r = op_commit(o);
        else
                op_abort(o);
        if (r < 0) {
                log_warning_errno(r, "Failed to register a session of %s: %m", c->username);
                conversation_finish(c, LOGIN_SESSION_ERR, NULL);
                return;
        }
        op_done(o);
        log_info("Session %s opened for %s via %s from %s (pid %u)", id, c->username, strempty(c->service),
                 peer_description(c), c->peer_pid);
        conversation_finish(c, LOGIN_SUCCESS, id);
}

static void close_session(conversation *c, op *o) {
        int r = -ENOENT;

        if (c->session_id)
                r = session_close(o, c->username, c->session_id);
        if (r >= 0)
                r = op_commit(o);
        else
                op_abort(o);
        if (r >= 0) {
                op_done(o);
                log_info("Session %s of %s closed", c->session_id, c->username);
        }
        /* A session already reaped, or removed by deactivation, is closed. */
        conversation_finish(c, r >= 0 || r == -ENOENT ? LOGIN_SUCCESS : LOGIN_SESSION_ERR, NULL);
}

/* ---- settling a check ---- */

/* Every check of a secret (a password, a code, an API token) is settled
 * in one write transaction that first re-reads the back-off: a concurrent
 * attempt may have started one. settle_begin() opens it and loads the
 * user; when the user is gone or backed off, it ends the conversation
 * (USER_UNKNOWN, MAXTRIES with the wait) and returns -ENOENT or -EAGAIN. */
static int settle_begin(conversation *c, op *o, user *u) {
        backoff b;
        int r;

        r = op_begin(c->services->accounts, c->requester, true, NULL, o);
        if (r < 0)
                return r;
        r = load_subject(c, o, u);
        if (r >= 0)
                r = backoff_get(o->txn, o->now, c->username, &b);
        if (r < 0) {
                op_abort(o);
                if (r == -ENOENT)
                        /* Deleted while the secret was being checked. */
                        conversation_finish(c, LOGIN_USER_UNKNOWN, NULL);
                return r;
        }
        if (b.until > o->now) {
                op_abort(o);
                log_notice("Refused %s via %s from %s: backed off", c->username, strempty(c->service),
                           peer_description(c));
                say_backed_off(c, b.until, o->now);
                conversation_finish(c, LOGIN_MAXTRIES, NULL);
                return -EAGAIN;
        }
        return 0;
}

/* A wrong secret: one more failure, committed with o; the user learns of
 * a back-off it starts. what names the secret for the log. */
static int settle_failure(conversation *c, op *o, const char *what) {
        backoff b;
        int r;

        r = backoff_record_failure(o, c->username, &b);
        if (r >= 0)
                r = op_commit(o);
        else
                op_abort(o);
        if (r < 0)
                return r;
        op_done(o);
        log_notice("Wrong %s for %s via %s from %s (%u failures in a row)", what, c->username, strempty(c->service),
                   peer_description(c), b.failures);
        if (b.until > o->now)
                say_backed_off(c, b.until, o->now);
        return 0;
}

/* The end of a check that failed for a reason of the store's. */
static void settle_fail(conversation *c, int r, const char *what) {
        log_warning_errno(r, "Login for %s: cannot settle the %s: %m", c->username, what);
        conversation_finish(c, LOGIN_SYSTEM_ERR, NULL);
}

/* ---- checking a password ---- */

typedef void (*checked_fn)(conversation *c, bool correct);

typedef struct check_job {
        conversation *conversation;
        checked_fn then;
        char hash[PASSWORD_HASH_MAX];   /* "" for a user without one, or none */
        char *password;
        int result;
} check_job;

static void check_job_free(check_job *j) {
        if (j->password) {
                sodium_memzero(j->password, strlen(j->password));
                free(j->password);
        }
        sodium_memzero(j, sizeof(*j));
        free(j);
}

static void check_job_work(void *userdata) {
        check_job *j = userdata;
        j->result = password_verify(j->hash, j->password);
}

/* Back on the main loop: the outcome is settled against the back-off in one
 * write transaction — refused while backed off (a concurrent attempt may
 * have started one), else counted as a failure or cleared by a success. */
static void check_job_done(void *userdata) {
        check_job *j = userdata;
        conversation *c = j->conversation;
        bool correct = j->result >= 0;
        checked_fn then = j->then;
        _cleanup_(user_done) user u = {};
        op o;
        int r;

        check_job_free(j);
        /* Settled even when the module left meanwhile: a checked password
         * counts whether or not anyone waits for the verdict (the
         * conversation stays readable until this callback returns; what it
         * would send is dropped). */
        (void) conversation_release(c);
        if (!c->known) {
                log_notice("Failed password for unknown user %s via %s from %s", c->username, strempty(c->service),
                           peer_description(c));
                conversation_finish(c, LOGIN_USER_UNKNOWN, NULL);
                return;
        }
        r = settle_begin(c, &o, &u);
        if (r == -ENOENT || r == -EAGAIN)
                return;
        if (r < 0)
                goto fail;
        /* A right password clears nothing yet: with 2FA the login is not
         * done, and wrong codes must go on counting (clear_failures() once
         * it is). */
        if (correct)
                op_abort(&o);
        else {
                r = settle_failure(c, &o, "password");
                if (r < 0)
                        goto fail;
        }
        then(c, correct);
        return;

fail:
        settle_fail(c, r, "password check");
}

/* Checks answer as c's user's password on a worker, then calls then(). */
static void check_password(conversation *c, const char *answer, checked_fn then) {
        _cleanup_(user_done) user u = {};
        check_job *j;
        backoff b = {};
        op o;
        int r;

        j = calloc(1, sizeof(*j));
        if (!j)
                goto fail;
        j->conversation = c;
        j->then = then;
        j->password = strdup(answer);
        if (!j->password)
                goto fail;

        if (c->known) {
                /* The hash as it is now (the prompt may have waited a while),
                 * and no check at all while the user is backed off. */
                r = op_begin(c->services->accounts, c->requester, false, NULL, &o);
                if (r < 0)
                        goto fail;
                r = load_subject(c, &o, &u);
                if (r >= 0)
                        r = backoff_get(o.txn, o.now, c->username, &b);
                if (r >= 0 && b.until <= o.now)
                        snprintf(j->hash, sizeof(j->hash), "%s", strempty(u.password_hash));
                op_abort(&o);
                if (r == -ENOENT) {
                        check_job_free(j);
                        conversation_finish(c, LOGIN_USER_UNKNOWN, NULL);
                        return;
                }
                if (r < 0)
                        goto fail;
                if (b.until > o.now) {
                        check_job_free(j);
                        log_notice("Refused %s via %s from %s: backed off", c->username, strempty(c->service),
                                   peer_description(c));
                        say_backed_off(c, b.until, o.now);
                        conversation_finish(c, LOGIN_MAXTRIES, NULL);
                        return;
                }
        }

        conversation_hold(c);
        r = worker_pool_submit(c->services->workers, check_job_work, check_job_done, j);
        if (r < 0) {
                (void) conversation_release(c);
                goto fail;
        }
        return;

fail:
        if (j)
                check_job_free(j);
        conversation_finish(c, LOGIN_SYSTEM_ERR, NULL);
}

/* The user proved who they are (the password, and the second factor where
 * there is one): the failed-login count starts over. */
static int clear_failures(conversation *c) {
        op o;
        int r;

        r = op_begin(c->services->accounts, c->requester, true, NULL, &o);
        if (r < 0)
                return r;
        r = backoff_clear(&o, c->username);
        if (r >= 0)
                r = op_commit(&o);
        else
                op_abort(&o);
        if (r >= 0)
                op_done(&o);
        return r;
}

/* The end of a successful authentication. */
static void authenticated(conversation *c) {
        int r = clear_failures(c);

        if (r < 0) {
                log_warning_errno(r, "Login for %s: cannot record the success: %m", c->username);
                conversation_finish(c, LOGIN_SYSTEM_ERR, NULL);
                return;
        }
        conversation_finish(c, LOGIN_SUCCESS, NULL);
}

/* ---- the second factor ---- */

/* Where the user and their organisation stand on two-factor
 * authentication. */
static int second_factor_state_get(conversation *c, second_factor_state *ret) {
        _cleanup_(user_done) user u = {};
        organisation org;
        op o;
        int r;

        r = op_begin(c->services->accounts, c->requester, false, NULL, &o);
        if (r < 0)
                return r;
        r = load_subject(c, &o, &u);
        if (r >= 0)
                r = org_load(o.txn, u.org, &org);
        if (r >= 0)
                *ret = (second_factor_state) { u.totp_enabled, org.require_2fa, org.hint_2fa };
        op_abort(&o);
        return r;
}

/* A long message (a QR code) in pieces that fit a frame, cut between
 * lines. */
static void say_long(conversation *c, const char *text) {
        char chunk[LOGIN_STRING_MAX + 1];

        while (*text) {
                size_t n = strlen(text);

                if (n > LOGIN_STRING_MAX) {
                        n = LOGIN_STRING_MAX;
                        while (n > 0 && text[n - 1] != '\n')
                                n--;
                        if (n == 0)
                                n = LOGIN_STRING_MAX;
                }
                memcpy(chunk, text, n);
                /* The application ends each message with a line break. */
                chunk[n > 0 && chunk[n - 1] == '\n' ? n - 1 : n] = 0;
                conversation_message(c, LOGIN_MESSAGE_INFO, chunk);
                text += n;
        }
}

/* Require 2FA: a new secret, shown as a QR code and as a key, then a code
 * from the app until one is right. The secret waits in the store as a
 * pending enrolment; nothing changes at login until it is confirmed. */
static void begin_enrolment(conversation *c) {
        char key[TOTP_KEY_MAX], uri[TOTP_URI_MAX], line[TOTP_KEY_MAX + 64];
        _cleanup_free_ char *qr = NULL;
        nx_error error = {};
        op o;
        int r;

        r = op_begin(c->services->accounts, c->requester, true, &error, &o);
        if (r >= 0) {
                r = totp_begin(&o, c->username, key, uri);
                if (r >= 0)
                        r = op_commit(&o);
                else
                        op_abort(&o);
                if (r >= 0)
                        op_done(&o);
        }
        /* No colours: sshd's clients print escape sequences in prompts as
         * text. Light on dark, as most terminals are; the key and the URI
         * follow for an app that cannot read it. */
        if (r >= 0)
                r = qr_text(uri, QR_LIGHT_ON_DARK, &qr);
        if (r < 0) {
                sodium_memzero(key, sizeof(key));
                sodium_memzero(uri, sizeof(uri));
                log_warning_errno(r, "Cannot start the two-factor enrolment of %s: %m", c->username);
                conversation_finish(c, LOGIN_SYSTEM_ERR, NULL);
                return;
        }
        log_info("Two-factor enrolment of %s started inside a login via %s", c->username, strempty(c->service));
        say(c, LOGIN_MESSAGE_INFO, TEXT_ENROL_INTRO);
        say_long(c, qr);
        snprintf(line, sizeof(line), "%s%s", login_text_get(c->language, TEXT_ENROL_KEY), key);
        conversation_message(c, LOGIN_MESSAGE_INFO, line);
        conversation_message(c, LOGIN_MESSAGE_INFO, uri);
        sodium_memzero(key, sizeof(key));
        sodium_memzero(uri, sizeof(uri));
        sodium_memzero(line, sizeof(line));
        sodium_memzero(qr, strlen(qr));
        c->tries = 0;
        ask(c, STEP_ENROL_CODE);
}

/* After the right password: a code for users with 2FA, enrolment for those
 * whose organisation requires it, else the session may open (with a hint
 * where the organisation wants one). */
static void second_factor(conversation *c) {
        second_factor_state st;
        int r;

        r = second_factor_state_get(c, &st);
        if (r < 0) {
                log_warning_errno(r, "Login for %s: cannot read the two-factor settings: %m", c->username);
                conversation_finish(c, r == -ENOENT ? LOGIN_USER_UNKNOWN : LOGIN_SYSTEM_ERR, NULL);
                return;
        }
        if (st.enabled) {
                ask(c, STEP_CODE);
                return;
        }
        if (st.required) {
                begin_enrolment(c);
                return;
        }
        if (st.hint)
                say(c, LOGIN_MESSAGE_INFO, TEXT_HINT);
        authenticated(c);
}

/* A code from the app or a recovery code, checked in the write transaction
 * that records it as used (and counts a failure against the back-off): two
 * logins racing with one code cannot both win. Cheap (three HMACs): on the
 * loop, no worker. */
static void code_answered(conversation *c, const char *answer) {
        totp_accepted how = TOTP_ACCEPTED_CODE;
        _cleanup_(user_done) user u = {};
        op o;
        int r;

        r = settle_begin(c, &o, &u);
        if (r == -ENOENT || r == -EAGAIN)
                return;
        if (r >= 0)
                r = totp_verify(&o, c->username, answer, &how);
        if (r == -EACCES || r == -ENOENT) {
                r = settle_failure(c, &o, "verification code");
                if (r < 0)
                        goto fail;
                say(c, LOGIN_MESSAGE_ERROR, TEXT_CODE_WRONG);
                conversation_finish(c, LOGIN_AUTH_ERR, NULL);
                return;
        }
        if (r >= 0)
                r = backoff_clear(&o, c->username);
        /* The accepted step in the file is what refuses a replay, also
         * after the daemon's crash; only a power failure within the same
         * minute could lose it, so the disk is not waited for (a synced
         * commit costs more than the rest of the check). A recovery code's
         * removal is not so cheap to lose: that commit waits. */
        if (r >= 0)
                r = how == TOTP_ACCEPTED_CODE ? op_commit_unsynced(&o) : op_commit(&o);
        else
                op_abort(&o);
        if (r < 0)
                goto fail;
        op_done(&o);
        log_info("Accepted %s for %s via %s from %s",
                 how == TOTP_ACCEPTED_RECOVERY_CODE ? "a recovery code" : "a verification code", c->username,
                 strempty(c->service), peer_description(c));
        if (how == TOTP_ACCEPTED_RECOVERY_CODE)
                say(c, LOGIN_MESSAGE_INFO, TEXT_RECOVERY_CODE_USED);
        conversation_finish(c, LOGIN_SUCCESS, NULL);
        return;

fail:
        settle_fail(c, r, "verification code");
}

/* Tries for the first code of an enrolment before the login fails (the
 * next login starts a new enrolment). */
#define ENROL_TRIES 3

static void enrol_code_answered(conversation *c, const char *answer) {
        recovery_code codes[RECOVERY_CODE_COUNT];
        char text[RECOVERY_CODE_COUNT * sizeof(recovery_code) + 512];
        nx_error error = {};
        size_t n;
        op o;
        int r;

        r = op_begin(c->services->accounts, c->requester, true, &error, &o);
        if (r < 0)
                goto fail;
        r = totp_confirm(&o, c->username, answer, codes);
        if (r >= 0)
                r = op_commit(&o);
        else
                op_abort(&o);
        if (r == -EACCES) {
                say(c, LOGIN_MESSAGE_ERROR, TEXT_CODE_WRONG);
                if (++c->tries >= ENROL_TRIES) {
                        conversation_finish(c, LOGIN_AUTH_ERR, NULL);
                        return;
                }
                ask(c, STEP_ENROL_CODE);
                return;
        }
        if (r < 0)
                goto fail;
        op_done(&o);
        log_info("Two-factor authentication of %s is on (enrolled inside a login via %s)", c->username,
                 strempty(c->service));

        say(c, LOGIN_MESSAGE_INFO, TEXT_ENROL_DONE);
        n = (size_t) snprintf(text, sizeof(text), "%s", login_text_get(c->language, TEXT_RECOVERY_INTRO));
        for (size_t i = 0; i < RECOVERY_CODE_COUNT && n < sizeof(text); i++)
                n += (size_t) snprintf(text + n, sizeof(text) - n, "\n    %s", codes[i]);
        conversation_message(c, LOGIN_MESSAGE_INFO, text);
        sodium_memzero(codes, sizeof(codes));
        sodium_memzero(text, sizeof(text));
        /* sshd shows messages only with the next prompt: one more, so that
         * the recovery codes are seen before the session starts. */
        ask(c, STEP_CONTINUE);
        return;

fail:
        log_warning_errno(r, "Login for %s: cannot confirm the two-factor enrolment: %m", c->username);
        conversation_finish(c, r == -ENOENT ? LOGIN_AUTH_ERR : LOGIN_SYSTEM_ERR, NULL);
}

static void continue_answered(conversation *c, const char *answer) {
        authenticated(c);
}

/* ---- auth ---- */

static void password_checked(conversation *c, bool correct) {
        _cleanup_(user_done) user u = {};
        login_refusal refusal = LOGIN_REFUSED_DEACTIVATED;
        op o;

        if (!correct) {
                conversation_finish(c, LOGIN_AUTH_ERR, NULL);
                return;
        }
        /* The password is right: the account's state decides, and the user,
         * who knows the password, may learn why. */
        if (op_begin(c->services->accounts, c->requester, false, NULL, &o) >= 0) {
                if (load_subject(c, &o, &u) >= 0)
                        refusal = user_login_refusal(&u);
                op_abort(&o);
        }
        if (refusal != LOGIN_ALLOWED) {
                say(c, LOGIN_MESSAGE_ERROR, refusal_texts[refusal]);
                log_notice("Refused %s via %s from %s: the password is right but the account may not log in",
                           c->username, strempty(c->service), peer_description(c));
                conversation_finish(c, LOGIN_AUTH_ERR, NULL);
                return;
        }
        log_info("Accepted password for %s via %s from %s", c->username, strempty(c->service), peer_description(c));
        second_factor(c);
}

/* A service that opts in (pam_nexalix.so allow_token) takes a personal API
 * token in place of the password: checked by its hash in the write
 * transaction that records its use (no argon2id: a token has 256 bits),
 * counted against the back-off when wrong. A token stands on its own: no
 * second factor is asked (a mail client or a VPN cannot answer one). */
static void token_answered(conversation *c, const char *answer) {
        _cleanup_(user_done) user u = {};
        login_refusal refusal;
        op o;
        int r;

        r = settle_begin(c, &o, &u);
        if (r == -ENOENT || r == -EAGAIN)
                return;
        if (r < 0)
                goto fail;
        refusal = user_login_refusal(&u);
        r = api_token_check(&o, c->username, answer);
        if (r == -EACCES) {
                r = settle_failure(c, &o, "API token");
                if (r < 0)
                        goto fail;
                conversation_finish(c, LOGIN_AUTH_ERR, NULL);
                return;
        }
        if (r >= 0)
                r = backoff_clear(&o, c->username);
        if (r >= 0)
                r = op_commit(&o);
        else
                op_abort(&o);
        if (r < 0)
                goto fail;
        op_done(&o);
        if (refusal != LOGIN_ALLOWED) {
                say(c, LOGIN_MESSAGE_ERROR, refusal_texts[refusal]);
                conversation_finish(c, LOGIN_AUTH_ERR, NULL);
                return;
        }
        log_info("Accepted API token for %s via %s from %s", c->username, strempty(c->service), peer_description(c));
        conversation_finish(c, LOGIN_SUCCESS, NULL);
        return;

fail:
        settle_fail(c, r, "API token");
}

/* A token for a name nobody has: the same store work as a wrong token of a
 * user — a write transaction that looks the token up and waits for the
 * disk — then unknown, so that a service with allow_token tells no one
 * which names exist by how fast it answers. */
static void token_for_nobody(conversation *c, const char *answer) {
        op o;
        int r;

        r = op_begin(c->services->accounts, c->requester, true, NULL, &o);
        if (r >= 0) {
                (void) api_token_check(&o, c->username, answer);
                op_abort(&o);
                r = store_sync(c->services->accounts->store);
        }
        if (r < 0)
                log_warning_errno(r, "Login for %s: store error: %m", c->username);
        log_notice("Failed API token for unknown user %s via %s from %s", c->username, strempty(c->service),
                   peer_description(c));
        conversation_finish(c, LOGIN_USER_UNKNOWN, NULL);
}

static void password_answered(conversation *c, const char *answer) {
        if ((c->flags & LOGIN_FLAG_ALLOW_TOKEN) && api_token_syntax(answer)) {
                if (c->known)
                        token_answered(c, answer);
                else
                        token_for_nobody(c, answer);
                return;
        }
        check_password(c, answer, password_checked);
}

/* ---- changing the password ---- */

static void old_password_checked(conversation *c, bool correct) {
        int r;

        if (!correct) {
                say(c, LOGIN_MESSAGE_ERROR, TEXT_PASSWORD_UNCHANGED);
                conversation_finish(c, LOGIN_AUTH_ERR, NULL);
                return;
        }
        r = clear_failures(c);
        if (r < 0) {
                conversation_finish(c, LOGIN_SYSTEM_ERR, NULL);
                return;
        }
        ask(c, STEP_NEW_PASSWORD);
}

static void old_password_answered(conversation *c, const char *answer) {
        check_password(c, answer, old_password_checked);
}

static void forget_new_password(conversation *c) {
        if (c->new_password) {
                sodium_memzero(c->new_password, strlen(c->new_password));
                free(c->new_password);
                c->new_password = NULL;
        }
}

/* Once more from the new password, or give up after NEW_PASSWORD_TRIES. */
static void retry_new_password(conversation *c, login_text why) {
        forget_new_password(c);
        say(c, LOGIN_MESSAGE_ERROR, why);
        if (++c->tries >= NEW_PASSWORD_TRIES) {
                say(c, LOGIN_MESSAGE_ERROR, TEXT_PASSWORD_UNCHANGED);
                conversation_finish(c, LOGIN_AUTHTOK_ERR, NULL);
                return;
        }
        ask(c, STEP_NEW_PASSWORD);
}

static void new_password_answered(conversation *c, const char *answer) {
        static const login_text refused[] = {
                [PASSWORD_TOO_SHORT] = TEXT_PASSWORD_TOO_SHORT,
                [PASSWORD_TOO_LONG] = TEXT_PASSWORD_TOO_LONG,
                [PASSWORD_NOT_UTF8] = TEXT_PASSWORD_NOT_UTF8,
        };
        password_quality q = password_check(answer);

        if (q != PASSWORD_OK) {
                retry_new_password(c, refused[q]);
                return;
        }
        c->new_password = strdup(answer);
        if (!c->new_password) {
                conversation_finish(c, LOGIN_SYSTEM_ERR, NULL);
                return;
        }
        ask(c, STEP_NEW_PASSWORD_AGAIN);
}

typedef struct hash_job {
        conversation *conversation;
        char *password;
        char hash[PASSWORD_HASH_MAX];
        int result;
} hash_job;

static void hash_job_free(hash_job *j) {
        if (j->password) {
                sodium_memzero(j->password, strlen(j->password));
                free(j->password);
        }
        sodium_memzero(j, sizeof(*j));
        free(j);
}

static void hash_job_work(void *userdata) {
        hash_job *j = userdata;
        j->result = password_hash(j->password, j->hash);
}

static void hash_job_done(void *userdata) {
        hash_job *j = userdata;
        conversation *c = j->conversation;
        nx_error error = {};
        op o;
        int r = j->result;

        if (!conversation_release(c)) {
                hash_job_free(j);
                return;
        }
        if (r >= 0)
                r = op_begin(c->services->accounts, c->requester, true, &error, &o);
        if (r >= 0) {
                r = user_set_password(&o, c->username, j->hash);
                if (r >= 0)
                        r = op_commit(&o);
                else
                        op_abort(&o);
                if (r >= 0)
                        op_done(&o);
        }
        hash_job_free(j);
        if (r < 0) {
                log_warning_errno(r, "Failed to change the password of %s: %m", c->username);
                say(c, LOGIN_MESSAGE_ERROR, TEXT_PASSWORD_UNCHANGED);
                conversation_finish(c, r == -ENOENT ? LOGIN_USER_UNKNOWN : LOGIN_AUTHTOK_ERR, NULL);
                return;
        }
        log_info("Password of %s changed via %s", c->username, strempty(c->service));
        say(c, LOGIN_MESSAGE_INFO, TEXT_PASSWORD_CHANGED);
        conversation_finish(c, LOGIN_SUCCESS, NULL);
}

static void new_password_again_answered(conversation *c, const char *answer) {
        size_t n = strlen(answer);
        hash_job *j;
        int r;

        if (!c->new_password || n != strlen(c->new_password) || sodium_memcmp(answer, c->new_password, n) != 0) {
                retry_new_password(c, TEXT_PASSWORDS_DIFFER);
                return;
        }
        j = calloc(1, sizeof(*j));
        if (!j) {
                conversation_finish(c, LOGIN_SYSTEM_ERR, NULL);
                return;
        }
        j->conversation = c;
        j->password = c->new_password;  /* the job wipes it */
        c->new_password = NULL;
        conversation_hold(c);
        r = worker_pool_submit(c->services->workers, hash_job_work, hash_job_done, j);
        if (r < 0) {
                (void) conversation_release(c);
                hash_job_free(j);
                conversation_finish(c, LOGIN_SYSTEM_ERR, NULL);
        }
}
