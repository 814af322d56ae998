/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "array.h"
#include "audit.h"
#include "macro.h"
#include "onetime.h"
#include "outbox.h"
#include "ratelimit.h"
#include "record.h"
#include "role.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LINK_RECORD_VERSION 1

/* "Forgot password": per address and per caller, in a window of an hour. */
#define RATE_WINDOW 3600
#define FORGOT_PER_ADDRESS 3
#define FORGOT_PER_CALLER 10
/* Verification mails a user may have sent (a new address, a resend). */
#define VERIFY_PER_CALLER 10

/* TABLE_ONETIME_LINKS: hash -> the link; TABLE_LINK_OWNERS: "user\0purpose"
 * -> hash, the one pending link of each purpose (for voiding). */
typedef struct link_record {
        link_purpose purpose;
        const char *username;
        uint64_t created_at, expires_at;
        const char *email;              /* verification: the address being confirmed */
} link_record;

static const char *const purpose_names[_LINK_PURPOSE_MAX] = {
        [LINK_INVITE] = "invitation",
        [LINK_RESET_ADMIN] = "password-reset",
        [LINK_RESET_SELF] = "forgot-password",
        [LINK_VERIFY_EMAIL] = "email-verification",
};

static const mail_kind purpose_mails[_LINK_PURPOSE_MAX] = {
        [LINK_INVITE] = MAIL_INVITE,
        [LINK_RESET_ADMIN] = MAIL_RESET_ADMIN,
        [LINK_RESET_SELF] = MAIL_RESET_SELF,
        [LINK_VERIFY_EMAIL] = MAIL_VERIFY_EMAIL,
};

const char *link_purpose_to_string(link_purpose p) {
        return p < _LINK_PURPOSE_MAX ? purpose_names[p] : "unknown";
}

uint64_t link_lifetime(link_purpose p) {
        switch (p) {
        case LINK_INVITE:
        case LINK_VERIFY_EMAIL:
                return 48 * 3600;
        case LINK_RESET_ADMIN:
                return 24 * 3600;
        case LINK_RESET_SELF:
        default:
                return 3600;
        }
}

/* ---- the records ---- */

static void token_hash(const char *token, uint8_t ret[static crypto_generichash_BYTES]) {
        crypto_generichash(ret, crypto_generichash_BYTES, (const unsigned char *) token, strlen(token), NULL, 0);
}

static size_t owner_key(char buf[static USERNAME_MAX + 3], const char *username, link_purpose p) {
        size_t n = strlen(username);

        memcpy(buf, username, n);
        buf[n] = 0;
        buf[n + 1] = (char) ('0' + p);
        return n + 2;
}

static int link_load(store_txn *t, const uint8_t hash[static crypto_generichash_BYTES], link_record *ret) {
        record_reader rd;
        const void *v;
        size_t n;
        int r;

        r = store_get(t, TABLE_ONETIME_LINKS, hash, crypto_generichash_BYTES, &v, &n);
        if (r < 0)
                return r;
        rd = record_reader_init(v, n);
        if (record_get_u8(&rd) != LINK_RECORD_VERSION)
                return -EBADMSG;
        ret->purpose = record_get_u8(&rd);
        ret->username = record_get_string(&rd);
        ret->created_at = record_get_u64(&rd);
        ret->expires_at = record_get_u64(&rd);
        ret->email = record_get_string(&rd);
        if (rd.error)
                return rd.error;
        if (ret->purpose >= _LINK_PURPOSE_MAX || strlen(ret->username) > USERNAME_MAX)
                return -EBADMSG;
        return 0;
}

/* Removes the link with this hash and its owner entry. */
static int link_delete(op *o, const uint8_t hash[static crypto_generichash_BYTES], const char *username,
                       link_purpose p) {
        char key[USERNAME_MAX + 3];
        int r;

        r = store_del(o->txn, TABLE_ONETIME_LINKS, hash, crypto_generichash_BYTES);
        if (r < 0 && r != -ENOENT)
                return r;
        r = store_del(o->txn, TABLE_LINK_OWNERS, key, owner_key(key, username, p));
        return r == -ENOENT ? 0 : r;
}

int onetime_void(op *o, const char *username, link_purpose p) {
        _cleanup_(user_done) user u = {};
        uint8_t hash[crypto_generichash_BYTES];
        char key[USERNAME_MAX + 3];
        const void *v;
        size_t n;
        int r;

        r = store_get(o->txn, TABLE_LINK_OWNERS, key, owner_key(key, username, p), &v, &n);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (n != sizeof(hash))
                return -EBADMSG;
        memcpy(hash, v, sizeof(hash));
        r = link_delete(o, hash, username, p);
        if (r >= 0)
                r = user_load(o->txn, username, &u);
        if (r < 0)
                return r;
        return audit_append(o, "link.void", u.org, username, "%s link voided", link_purpose_to_string(p));
}

int onetime_void_all(op *o, const char *username, unsigned *ret_count) {
        unsigned n = 0;

        for (link_purpose p = 0; p < _LINK_PURPOSE_MAX; p++) {
                char key[USERNAME_MAX + 3];
                int r = store_get(o->txn, TABLE_LINK_OWNERS, key, owner_key(key, username, p), NULL, NULL);

                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                r = onetime_void(o, username, p);
                if (r < 0)
                        return r;
                n++;
        }
        if (ret_count)
                *ret_count = n;
        return 0;
}

/* ---- issuing ---- */

/* [links] url with {token} replaced (once; the configuration has it). */
static int build_url(const config *c, const char *token, char **ret) {
        const char *url = c->link_url ?: "{token}", *at = strstr(url, "{token}");

        if (!at)
                return asprintf(ret, "%s%s", url, token) < 0 ? -ENOMEM : 0;
        return asprintf(ret, "%.*s%s%s", (int) (at - url), url, token, at + strlen("{token}")) < 0 ? -ENOMEM : 0;
}

int onetime_issue(op *o, const user *u, link_purpose p, const char *to) {
        _cleanup_(record_writer_done) record_writer w = {};
        uint8_t raw[LINK_TOKEN_BYTES], hash[crypto_generichash_BYTES];
        char token[LINK_TOKEN_CHARS + 1], key[USERNAME_MAX + 3], expires[64];
        _cleanup_free_ char *url = NULL;
        uint64_t expires_at = o->now + link_lifetime(p);
        struct tm tm;
        time_t t = (time_t) expires_at;
        int r;

        r = onetime_void(o, u->username, p);
        if (r < 0)
                return r;

        /* A token never starts with '-': it is given on command lines. */
        do {
                randombytes_buf(raw, sizeof(raw));
                sodium_bin2base64(token, sizeof(token), raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        } while (token[0] == '-');
        sodium_memzero(raw, sizeof(raw));
        token_hash(token, hash);

        record_put_u8(&w, LINK_RECORD_VERSION);
        record_put_u8(&w, (uint8_t) p);
        record_put_string(&w, u->username);
        record_put_u64(&w, o->now);
        record_put_u64(&w, expires_at);
        record_put_string(&w, p == LINK_VERIFY_EMAIL ? to : "");
        r = record_writer_error(&w);
        if (r >= 0)
                r = store_put(o->txn, TABLE_ONETIME_LINKS, hash, sizeof(hash), w.data, w.size, true);
        if (r >= 0)
                r = store_put(o->txn, TABLE_LINK_OWNERS, key, owner_key(key, u->username, p), hash, sizeof(hash),
                              false);
        if (r >= 0)
                r = build_url(o->accounts->config, token, &url);
        sodium_memzero(token, sizeof(token));
        if (r < 0)
                return r;

        gmtime_r(&t, &tm);
        strftime(expires, sizeof(expires), "%Y-%m-%d %H:%M UTC", &tm);
        r = outbox_queue(o, to, u->language, purpose_mails[p], &(mail_vars) {
                .username = u->username, .first_name = u->first_name, .last_name = u->last_name,
                .org = u->org, .link = url, .expires = expires,
        });
        sodium_memzero(url, strlen(url));
        if (r < 0)
                return r;
        return audit_append(o, "link.issue", u->org, u->username, "%s link, valid until %s", link_purpose_to_string(p),
                            expires);
}

/* ---- redeeming ---- */

/* The link of a token, refused when unknown or expired; an expired one is
 * removed (and audited) in o's transaction. */
static int lookup(op *o, const char *token, uint8_t hash[static crypto_generichash_BYTES], link_record *ret) {
        _cleanup_(user_done) user u = {};
        char username[USERNAME_MAX + 1];
        int r;

        if (strlen(token) != LINK_TOKEN_CHARS)
                return nx_error_set(o->error, -ENOENT, "this link is not valid: it was used, replaced, or never issued");
        token_hash(token, hash);
        r = link_load(o->txn, hash, ret);
        if (r == -ENOENT)
                return nx_error_set(o->error, -ENOENT, "this link is not valid: it was used, replaced, or never issued");
        if (r < 0)
                return r;
        if (o->now < ret->expires_at)
                return 0;
        /* Gone for good: the record goes, the audit says why. (A copy of the
         * name: the record's strings point into pages the deletion changes.) */
        snprintf(username, sizeof(username), "%s", ret->username);
        r = link_delete(o, hash, username, ret->purpose);
        if (r >= 0 && user_load(o->txn, username, &u) >= 0)
                r = audit_append(o, "link.expire", u.org, u.username, "%s link expired unused",
                                 link_purpose_to_string(ret->purpose));
        if (r < 0)
                return r;
        return nx_error_set(o->error, -ETIME, "this link has expired: ask for a new one");
}

int onetime_check(op *o, const char *token, link_info *ret) {
        uint8_t hash[crypto_generichash_BYTES];
        link_record l;
        int r;

        /* An expired link is removed and its expiry audited by whoever
         * presents it first, looking or redeeming (commit o on -ETIME). */
        r = lookup(o, token, hash, &l);
        if (r < 0)
                return r;
        ret->purpose = l.purpose;
        snprintf(ret->username, sizeof(ret->username), "%s", l.username);
        ret->expires_at = l.expires_at;
        return 0;
}

int onetime_redeem(op *o, const char *token, const char *password_hash, link_info *ret) {
        uint8_t hash[crypto_generichash_BYTES];
        char username[USERNAME_MAX + 1], email[EMAIL_MAX + 1];
        _cleanup_(user_done) user u = {};
        link_record l;
        int r;

        r = lookup(o, token, hash, &l);
        if (r < 0)
                return r;
        /* Copies: the record's strings point into the map, which the writes
         * below may move. */
        snprintf(username, sizeof(username), "%s", l.username);
        snprintf(email, sizeof(email), "%s", l.email);
        if ((l.purpose == LINK_VERIFY_EMAIL) != !password_hash)
                return nx_error_set(o->error, -EINVAL, l.purpose == LINK_VERIFY_EMAIL
                                    ? "this link verifies an email address: use 'nexalixctl verify-email'"
                                    : "this link sets a password: use 'nexalixctl redeem'");

        r = link_delete(o, hash, username, l.purpose);
        if (r < 0)
                return r;
        switch (l.purpose) {
        case LINK_INVITE:
                r = user_accept_invitation(o, username, password_hash);
                break;
        case LINK_RESET_ADMIN:
        case LINK_RESET_SELF:
                r = user_reset_password(o, username, password_hash);
                break;
        case LINK_VERIFY_EMAIL:
                r = user_confirm_email(o, username, email);
                break;
        default:
                r = -EBADMSG;
        }
        if (r >= 0)
                r = user_load(o->txn, username, &u);
        if (r < 0)
                return r;
        r = audit_append(o, "link.redeem", u.org, username, "%s link redeemed", link_purpose_to_string(l.purpose));
        if (r < 0)
                return r;
        if (ret) {
                ret->purpose = l.purpose;
                snprintf(ret->username, sizeof(ret->username), "%s", username);
                ret->expires_at = l.expires_at;
        }
        return 0;
}

/* ---- the flows that issue links ---- */

int onetime_invite_again(op *o, const char *username) {
        _cleanup_(user_done) user u = {};
        int r;

        r = user_load_for(o, username, PERM_MANAGE_USERS, &u);
        if (r < 0)
                return r;
        if (u.state != USER_INVITED)
                return nx_error_set(o->error, -EBUSY, "'%s' is %s, not waiting for an invitation%s", username,
                                    user_state_to_string(u.state),
                                    u.state == USER_ACTIVE ? ": use 'user reset-password'" : "");
        return onetime_issue(o, &u, LINK_INVITE, u.email);
}

int onetime_start_reset(op *o, const char *username) {
        _cleanup_(user_done) user u = {};
        int r;

        r = user_load_for(o, username, PERM_MANAGE_USERS, &u);
        if (r < 0)
                return r;
        if (u.state == USER_INVITED)
                return nx_error_set(o->error, -EBUSY, "'%s' has not accepted the invitation yet: use 'user invite-again'",
                                    username);
        if (u.state != USER_ACTIVE)
                return nx_error_set(o->error, -EBUSY, "'%s' is deactivated: activate the account first", username);
        /* Mail goes only to verified addresses: a link to an address nobody
         * confirmed could hand the account to a stranger. */
        if (!u.email_verified)
                return nx_error_set(o->error, -EBUSY,
                                    "the email address of '%s' is not verified, so no reset link can be mailed: "
                                    "the user can verify it with 'nexalixctl account resend-verification'", username);
        return onetime_issue(o, &u, LINK_RESET_ADMIN, u.email);
}

/* "Forgot password" answers in two steps, so that the answer costs the
 * same whatever the address: the request only counts the limits and queues
 * the address (the same writes on every path), and onetime_process_forgotten()
 * — run by the daemon a moment later, for every request queued meanwhile —
 * looks the addresses up and issues the links. TABLE_FORGOT_QUEUE: a
 * big-endian sequence -> the address as given. */
#define FORGOT_SEQ_KEY "forgot_seq"

int onetime_forgot_password(op *o, const char *email) {
        uint8_t hash[crypto_generichash_BYTES], key[8];
        char normalized[EMAIL_MAX + 1], limit_key[16 + 2 * crypto_generichash_BYTES + 1];
        uint64_t seq = 1;
        const void *v;
        size_t n;
        int r, limited;

        if (strlen(strempty(email)) > EMAIL_MAX)
                return nx_error_set(o->error, -EINVAL, "that is not an email address");
        /* Both limits are counted on every call, whatever the address. */
        snprintf(normalized, sizeof(normalized), "%s", strempty(email));
        email_normalize(normalized);
        crypto_generichash(hash, sizeof(hash), (const unsigned char *) normalized, strlen(normalized), NULL, 0);
        memcpy(limit_key, "forgot:", 7);
        sodium_bin2hex(limit_key + 7, sizeof(limit_key) - 7, hash, 16);
        limited = ratelimit_hit(o, limit_key, FORGOT_PER_ADDRESS, RATE_WINDOW);
        if (limited < 0 && limited != -EAGAIN)
                return limited;
        snprintf(limit_key, sizeof(limit_key), "forgot-uid:%u", o->caller.uid);
        r = ratelimit_hit(o, limit_key, FORGOT_PER_CALLER, RATE_WINDOW);
        if (r < 0 && r != -EAGAIN)
                return r;
        if (r == -EAGAIN || limited == -EAGAIN)
                /* Which limit applied is nobody's business. */
                return nx_error_set(o->error, -EAGAIN, "too many requests: try again later");

        r = store_get(o->txn, TABLE_META, FORGOT_SEQ_KEY, strlen(FORGOT_SEQ_KEY), &v, &n);
        if (r >= 0 && n == 8)
                seq = be64_get(v) + 1;
        else if (r < 0 && r != -ENOENT)
                return r;
        be64_put(key, seq);
        r = store_put(o->txn, TABLE_META, FORGOT_SEQ_KEY, strlen(FORGOT_SEQ_KEY), key, sizeof(key), false);
        if (r >= 0)
                r = store_put(o->txn, TABLE_FORGOT_QUEUE, key, sizeof(key), normalized, strlen(normalized), false);
        return r;
}

typedef struct forgotten {
        uint8_t key[8];
        char address[EMAIL_MAX + 1];
        bool found;
} forgotten;

static int first_forgotten(const void *key, size_t key_size, const void *value, size_t value_size,
                           void *userdata) {
        forgotten *f = userdata;

        if (key_size != 8)
                return -EBADMSG;
        memcpy(f->key, key, 8);
        memcpy(f->address, value, value_size > EMAIL_MAX ? 0 : value_size);
        f->address[value_size > EMAIL_MAX ? 0 : value_size] = 0;
        f->found = true;
        return 1;       /* the first is enough */
}

/* One queued request: a reset link to the address, if it is the verified
 * address of an active account. */
static int process_forgotten(op *o, const char *address) {
        _cleanup_(user_done) user u = {};
        char username[USERNAME_MAX + 1];
        const void *v;
        size_t n;
        int r;

        if (!*address)
                return 0;
        r = store_get(o->txn, TABLE_EMAILS, address, strlen(address), &v, &n);
        if (r == -ENOENT || (r >= 0 && n > USERNAME_MAX))
                return 0;
        if (r < 0)
                return r;
        memcpy(username, v, n);
        username[n] = 0;
        r = user_load(o->txn, username, &u);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (u.state != USER_ACTIVE || !u.email_verified)
                return 0;
        return onetime_issue(o, &u, LINK_RESET_SELF, u.email);
}

int onetime_process_forgotten(op *o, bool process, bool *ret_more) {
        forgotten f = {};
        int r;

        r = store_foreach(o->txn, TABLE_FORGOT_QUEUE, NULL, 0, false, first_forgotten, &f);
        if (r < 0)
                return r;
        *ret_more = f.found;
        if (!f.found)
                return 0;
        r = store_del(o->txn, TABLE_FORGOT_QUEUE, f.key, sizeof(f.key));
        if (r >= 0 && process)
                r = process_forgotten(o, f.address);
        sodium_memzero(f.address, sizeof(f.address));
        return r;
}

/* A user can have mail sent to any address (a new one to verify): not
 * more than VERIFY_PER_CALLER an hour. -EAGAIN: commit o anyway. */
static int limit_verification_mail(op *o) {
        char key[32];
        int r;

        snprintf(key, sizeof(key), "verify-uid:%u", o->caller.uid);
        r = ratelimit_hit(o, key, VERIFY_PER_CALLER, RATE_WINDOW);
        if (r == -EAGAIN)
                return nx_error_set(o->error, -EAGAIN, "too many verification mails: try again later");
        return r;
}

int onetime_change_email(op *o, const char *new_email) {
        _cleanup_(user_done) user u = {};
        char key[EMAIL_MAX + 1];
        const char *reason;
        const void *v;
        size_t n;
        int r;

        if (!o->caller.known)
                return nx_error_set(o->error, -ENOENT, "uid %u has no Nexalix account", o->caller.uid);
        r = limit_verification_mail(o);
        if (r < 0)
                return r;
        r = user_load(o->txn, o->caller.name, &u);
        if (r < 0)
                return r;
        if (u.state != USER_ACTIVE)
                return nx_error_set(o->error, -EBUSY, "only an active account can change its address");
        if (validate_email(new_email, &reason) < 0)
                return nx_error_set(o->error, -EINVAL, "%s", reason);
        if (strcasecmp(new_email, u.email) == 0)
                return nx_error_set(o->error, -EINVAL, "that is your address already%s",
                                    u.email_verified ? "" : ": use 'nexalixctl account resend-verification'");
        snprintf(key, sizeof(key), "%s", new_email);
        email_normalize(key);
        r = store_get(o->txn, TABLE_EMAILS, key, strlen(key), &v, &n);
        if (r >= 0)
                return nx_error_set(o->error, -EEXIST, "the address %s is in use", new_email);
        if (r != -ENOENT)
                return r;
        /* The current address stays in use until the new one is confirmed. */
        return onetime_issue(o, &u, LINK_VERIFY_EMAIL, new_email);
}

int onetime_resend_verification(op *o) {
        _cleanup_(user_done) user u = {};
        char key[USERNAME_MAX + 3], target[EMAIL_MAX + 1] = "";
        link_record l;
        const void *v;
        size_t n;
        int r;

        if (!o->caller.known)
                return nx_error_set(o->error, -ENOENT, "uid %u has no Nexalix account", o->caller.uid);
        r = limit_verification_mail(o);
        if (r < 0)
                return r;
        r = user_load(o->txn, o->caller.name, &u);
        if (r < 0)
                return r;
        if (u.state == USER_DEACTIVATED)
                return nx_error_set(o->error, -EBUSY, "the account is deactivated");
        /* A pending change of address: again to the new address. */
        r = store_get(o->txn, TABLE_LINK_OWNERS, key, owner_key(key, u.username, LINK_VERIFY_EMAIL), &v, &n);
        if (r >= 0 && n == crypto_generichash_BYTES && link_load(o->txn, v, &l) >= 0 && !isempty(l.email))
                snprintf(target, sizeof(target), "%s", l.email);
        else if (r < 0 && r != -ENOENT)
                return r;
        if (!target[0]) {
                if (u.email_verified)
                        return nx_error_set(o->error, -EBUSY, "your address %s is verified already", u.email);
                if (u.state == USER_INVITED)
                        return nx_error_set(o->error, -EBUSY, "the invitation verifies the address: ask an administrator "
                                            "for a new invitation");
                snprintf(target, sizeof(target), "%s", u.email);
        }
        return onetime_issue(o, &u, LINK_VERIFY_EMAIL, target);
}
