/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "audit.h"
#include "macro.h"
#include "record.h"
#include "totp.h"
#include "user.h"

#include <ctype.h>
#include <liboath/oath.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define TOTP_RECORD_VERSION 1

/* The letters of recovery codes: digits and lower-case letters without
 * i, l, o and u, which are read as 1, 1, 0 and v (Crockford's base32). */
static const char recovery_alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

/* What the store keeps per user (TABLE_TOTP). */
typedef struct totp_record {
        bool enabled;
        uint8_t secret[TOTP_SECRET_BYTES];
        uint64_t enabled_at;
        uint64_t last_step;             /* the last accepted time step; 0: none yet */
        bool pending;
        uint8_t pending_secret[TOTP_SECRET_BYTES];
        uint64_t pending_at;
} totp_record;

static void totp_record_wipe(totp_record *r) {
        sodium_memzero(r, sizeof(*r));
}

static pthread_once_t oath_once = PTHREAD_ONCE_INIT;
static int oath_ready = OATH_OK;

static void oath_setup(void) {
        oath_ready = oath_init();
}

/* ---- the record ---- */

static int load(store_txn *t, const char *username, totp_record *ret) {
        record_reader rd;
        const void *v, *secret, *pending;
        size_t n;
        int r;

        *ret = (totp_record) {};
        r = store_get(t, TABLE_TOTP, username, strlen(username), &v, &n);
        if (r < 0)
                return r;
        rd = record_reader_init(v, n);
        if (record_get_u8(&rd) != TOTP_RECORD_VERSION)
                return -EBADMSG;
        ret->enabled = record_get_u8(&rd);
        secret = record_get_bytes(&rd, TOTP_SECRET_BYTES);
        ret->enabled_at = record_get_u64(&rd);
        ret->last_step = record_get_u64(&rd);
        ret->pending = record_get_u8(&rd);
        pending = record_get_bytes(&rd, TOTP_SECRET_BYTES);
        ret->pending_at = record_get_u64(&rd);
        if (rd.error)
                return rd.error;
        memcpy(ret->secret, secret, TOTP_SECRET_BYTES);
        memcpy(ret->pending_secret, pending, TOTP_SECRET_BYTES);
        return 0;
}

static int save(op *o, const char *username, const totp_record *t) {
        _cleanup_(record_writer_done) record_writer w = {};
        int r;

        /* Room for the whole record first: no reallocation leaves a copy of
         * a secret behind. */
        record_writer_reserve(&w, 128);
        record_put_u8(&w, TOTP_RECORD_VERSION);
        record_put_u8(&w, t->enabled);
        record_put_bytes(&w, t->secret, TOTP_SECRET_BYTES);
        record_put_u64(&w, t->enabled_at);
        record_put_u64(&w, t->last_step);
        record_put_u8(&w, t->pending);
        record_put_bytes(&w, t->pending_secret, TOTP_SECRET_BYTES);
        record_put_u64(&w, t->pending_at);
        r = record_writer_error(&w);
        if (r < 0)
                return r;
        return store_put(o->txn, TABLE_TOTP, username, strlen(username), w.data, w.size, false);
}

static bool pending_valid(const totp_record *t, uint64_t now) {
        return t->pending && now < t->pending_at + TOTP_ENROLMENT_SECONDS;
}

/* ---- codes ---- */

/* liboath's comparison callback: strcmp's contract, in constant time. */
static int compare_code(void *handle, const char *test_otp) {
        const char *code = handle;

        if (strlen(test_otp) != TOTP_DIGITS)
                return 1;
        return sodium_memcmp(code, test_otp, TOTP_DIGITS) == 0 ? 0 : 1;
}

static bool is_totp_code(const char *code) {
        if (strlen(code) != TOTP_DIGITS)
                return false;
        for (const char *p = code; *p; p++)
                if (!isdigit((unsigned char) *p))
                        return false;
        return true;
}

/* The step of the three around now (drift of one step either way) that
 * code is for, considering only steps after `after`; 0 when none. */
static uint64_t match_step(const uint8_t secret[static TOTP_SECRET_BYTES], const char *code, uint64_t now,
                           uint64_t after) {
        uint64_t current = now / TOTP_STEP_SECONDS;
        uint64_t found = 0;

        if (pthread_once(&oath_once, oath_setup) != 0 || oath_ready != OATH_OK || !is_totp_code(code))
                return 0;
        /* Every candidate is computed, matched or not, so that the time
         * taken says nothing about which one matched. */
        for (uint64_t step = current - 1; step <= current + 1; step++) {
                int pos;
                uint64_t counter;

                if (step == 0 || step <= after)
                        continue;
                if (oath_totp_validate3_callback((const char *) secret, TOTP_SECRET_BYTES,
                                                 (time_t) (step * TOTP_STEP_SECONDS), TOTP_STEP_SECONDS,
                                                 OATH_TOTP_DEFAULT_START_TIME, TOTP_DIGITS, 0, &pos, &counter,
                                                 compare_code, (void *) code) >= 0 &&
                    !found)
                        found = step;
        }
        return found;
}

/* The code without spaces or dashes, in lower case, if it can be a
 * recovery code. */
static bool normalize_recovery_code(const char *code, char ret[static RECOVERY_CODE_CHARS + 1]) {
        size_t n = 0;

        for (const char *p = code; *p; p++) {
                char c = (char) tolower((unsigned char) *p);
                if (c == '-' || c == ' ')
                        continue;
                if (n >= RECOVERY_CODE_CHARS || !strchr(recovery_alphabet, c) || c == 0)
                        return false;
                ret[n++] = c;
        }
        ret[n] = 0;
        return n == RECOVERY_CODE_CHARS;
}

/* The store key of a recovery code: "user\0" and its hash. */
static size_t recovery_key(uint8_t key[static USERNAME_MAX + 1 + crypto_generichash_BYTES], const char *username,
                           const char normalized[static RECOVERY_CODE_CHARS + 1]) {
        size_t n = strlen(username);

        memcpy(key, username, n + 1);
        crypto_generichash(key + n + 1, crypto_generichash_BYTES, (const unsigned char *) normalized,
                           RECOVERY_CODE_CHARS, NULL, 0);
        return n + 1 + crypto_generichash_BYTES;
}

static int make_recovery_codes(op *o, const char *username, recovery_code ret[static RECOVERY_CODE_COUNT]) {
        uint8_t key[USERNAME_MAX + 1 + crypto_generichash_BYTES], value[8];
        int r;

        r = store_del_prefix(o->txn, TABLE_RECOVERY_CODES, username, strlen(username) + 1, NULL);
        if (r < 0)
                return r;
        for (size_t i = 0; i < RECOVERY_CODE_COUNT; i++) {
                char plain[RECOVERY_CODE_CHARS + 1];
                size_t k;

                for (k = 0; k < RECOVERY_CODE_CHARS; k++)
                        plain[k] = recovery_alphabet[randombytes_uniform(sizeof(recovery_alphabet) - 1)];
                plain[k] = 0;
                snprintf(ret[i], sizeof(ret[i]), "%.4s-%.4s-%.4s", plain, plain + 4, plain + 8);
                be64_put(value, o->now);
                r = store_put(o->txn, TABLE_RECOVERY_CODES, key, recovery_key(key, username, plain), value,
                              sizeof(value), false);
                sodium_memzero(plain, sizeof(plain));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int count_code(const void *key, size_t key_size, const void *value, size_t value_size, void *userdata) {
        (*(unsigned *) userdata)++;
        return 0;
}

/* ---- operations ---- */

int totp_status_get(store_txn *t, uint64_t now, const char *username, totp_status *ret) {
        totp_record rec;
        unsigned left = 0;
        int r;

        r = load(t, username, &rec);
        if (r == -ENOENT) {
                *ret = (totp_status) {};
                return 0;
        }
        if (r < 0)
                return r;
        *ret = (totp_status) { .enabled = rec.enabled, .enabled_at = rec.enabled_at,
                               .pending = pending_valid(&rec, now) };
        totp_record_wipe(&rec);
        r = store_foreach(t, TABLE_RECOVERY_CODES, username, strlen(username) + 1, false, count_code, &left);
        if (r < 0)
                return r;
        ret->recovery_codes_left = left;
        return 0;
}

static int set_user_flag(op *o, const char *username, bool enabled) {
        return user_set_totp_enabled(o, username, enabled);
}

int totp_begin(op *o, const char *username, char ret_key[static TOTP_KEY_MAX], char ret_uri[static TOTP_URI_MAX]) {
        totp_record rec;
        char *base32 = NULL;
        size_t base32_len;
        int r;

        r = load(o->txn, username, &rec);
        if (r < 0 && r != -ENOENT)
                return r;
        if (rec.enabled) {
                totp_record_wipe(&rec);
                return nx_error_set(o->error, -EBUSY, "two-factor authentication is already on for '%s'", username);
        }
        randombytes_buf(rec.pending_secret, sizeof(rec.pending_secret));
        rec.pending = true;
        rec.pending_at = o->now;
        r = pthread_once(&oath_once, oath_setup) != 0 || oath_ready != OATH_OK ? -EIO : 0;
        if (r >= 0)
                r = oath_base32_encode((const char *) rec.pending_secret, sizeof(rec.pending_secret), &base32,
                                       &base32_len) == OATH_OK ? 0 : -ENOMEM;
        if (r >= 0 && base32_len >= TOTP_KEY_MAX)
                r = -E2BIG;
        if (r >= 0) {
                /* Authenticator apps want the key without '=' padding. */
                while (base32_len > 0 && base32[base32_len - 1] == '=')
                        base32_len--;
                memcpy(ret_key, base32, base32_len);
                ret_key[base32_len] = 0;
                if (snprintf(ret_uri, TOTP_URI_MAX,
                             "otpauth://totp/Nexalix:%s?secret=%s&issuer=Nexalix&algorithm=SHA1&digits=%d&period=%d",
                             username, ret_key, TOTP_DIGITS, TOTP_STEP_SECONDS) >= TOTP_URI_MAX)
                        r = -E2BIG;
        }
        if (base32) {
                sodium_memzero(base32, base32_len);
                free(base32);
        }
        if (r >= 0)
                r = save(o, username, &rec);
        totp_record_wipe(&rec);
        return r;
}

int totp_confirm(op *o, const char *username, const char *code, recovery_code ret_codes[static RECOVERY_CODE_COUNT]) {
        _cleanup_(user_done) user u = {};
        totp_record rec;
        uint64_t step;
        int r;

        r = load(o->txn, username, &rec);
        if (r == -ENOENT || (r >= 0 && !pending_valid(&rec, o->now))) {
                totp_record_wipe(&rec);
                return nx_error_set(o->error, -ENOENT,
                                    "no two-factor enrolment is waiting to be confirmed (they expire after %d minutes): "
                                    "start again", TOTP_ENROLMENT_SECONDS / 60);
        }
        if (r < 0)
                return r;
        step = match_step(rec.pending_secret, code, o->now, 0);
        if (step == 0) {
                totp_record_wipe(&rec);
                return nx_error_set(o->error, -EACCES, "wrong code: check the time on the device and try again");
        }
        memcpy(rec.secret, rec.pending_secret, TOTP_SECRET_BYTES);
        sodium_memzero(rec.pending_secret, sizeof(rec.pending_secret));
        rec.pending = false;
        rec.pending_at = 0;
        rec.enabled = true;
        rec.enabled_at = o->now;
        /* The code that confirmed is used. */
        rec.last_step = step;
        r = save(o, username, &rec);
        totp_record_wipe(&rec);
        if (r >= 0)
                r = make_recovery_codes(o, username, ret_codes);
        if (r >= 0)
                r = set_user_flag(o, username, true);
        if (r >= 0)
                r = user_load(o->txn, username, &u);
        if (r < 0)
                return r;
        return audit_append(o, "user.2fa.enable", u.org, username, "two-factor authentication on, %d recovery codes",
                            RECOVERY_CODE_COUNT);
}

int totp_verify(op *o, const char *username, const char *code, totp_accepted *ret_how) {
        uint8_t key[USERNAME_MAX + 1 + crypto_generichash_BYTES];
        char normalized[RECOVERY_CODE_CHARS + 1];
        _cleanup_(user_done) user u = {};
        totp_record rec;
        uint64_t step;
        unsigned left = 0;
        size_t key_size;
        int r;

        r = load(o->txn, username, &rec);
        if (r == -ENOENT || (r >= 0 && !rec.enabled)) {
                totp_record_wipe(&rec);
                return -ENOENT;
        }
        if (r < 0)
                return r;

        if (is_totp_code(code)) {
                step = match_step(rec.secret, code, o->now, rec.last_step);
                if (step == 0) {
                        totp_record_wipe(&rec);
                        return -EACCES;
                }
                rec.last_step = step;
                r = save(o, username, &rec);
                totp_record_wipe(&rec);
                if (r >= 0 && ret_how)
                        *ret_how = TOTP_ACCEPTED_CODE;
                return r;
        }
        totp_record_wipe(&rec);

        if (!normalize_recovery_code(code, normalized))
                return -EACCES;
        key_size = recovery_key(key, username, normalized);
        sodium_memzero(normalized, sizeof(normalized));
        r = store_del(o->txn, TABLE_RECOVERY_CODES, key, key_size);
        if (r == -ENOENT)
                return -EACCES;
        if (r < 0)
                return r;
        r = store_foreach(o->txn, TABLE_RECOVERY_CODES, username, strlen(username) + 1, false, count_code, &left);
        if (r >= 0)
                r = user_load(o->txn, username, &u);
        if (r >= 0)
                r = audit_append(o, "user.2fa.recovery-code", u.org, username, "a recovery code was used; %u left",
                                 left);
        if (r >= 0 && ret_how)
                *ret_how = TOTP_ACCEPTED_RECOVERY_CODE;
        return r;
}

int totp_disable(op *o, const char *username, const char *action) {
        _cleanup_(user_done) user u = {};
        totp_record rec;
        bool enabled;
        int r;

        r = load(o->txn, username, &rec);
        enabled = r >= 0 && rec.enabled;
        totp_record_wipe(&rec);
        if (r == -ENOENT || (r >= 0 && !enabled))
                return nx_error_set(o->error, -ENOENT, "two-factor authentication is not on for '%s'", username);
        if (r < 0)
                return r;
        r = totp_forget(o, username);
        if (r >= 0)
                r = set_user_flag(o, username, false);
        if (r >= 0)
                r = user_load(o->txn, username, &u);
        if (r < 0)
                return r;
        return audit_append(o, action, u.org, username, "two-factor authentication off, recovery codes void");
}

int totp_new_recovery_codes(op *o, const char *username, recovery_code ret_codes[static RECOVERY_CODE_COUNT]) {
        _cleanup_(user_done) user u = {};
        totp_record rec;
        bool enabled;
        int r;

        r = load(o->txn, username, &rec);
        enabled = r >= 0 && rec.enabled;
        totp_record_wipe(&rec);
        if (r == -ENOENT || (r >= 0 && !enabled))
                return nx_error_set(o->error, -ENOENT, "two-factor authentication is not on for '%s'", username);
        if (r < 0)
                return r;
        r = make_recovery_codes(o, username, ret_codes);
        if (r >= 0)
                r = user_load(o->txn, username, &u);
        if (r < 0)
                return r;
        return audit_append(o, "user.2fa.recovery-codes", u.org, username, "%d new recovery codes, the old ones void",
                            RECOVERY_CODE_COUNT);
}

int totp_forget(op *o, const char *username) {
        int r = store_del(o->txn, TABLE_TOTP, username, strlen(username));

        if (r < 0 && r != -ENOENT)
                return r;
        return store_del_prefix(o->txn, TABLE_RECOVERY_CODES, username, strlen(username) + 1, NULL);
}
