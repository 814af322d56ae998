/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "apitoken.h"
#include "audit.h"
#include "macro.h"
#include "record.h"
#include "user.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define TOKEN_RECORD_VERSION 1
#define TOKEN_BYTES 32

/* TABLE_TOKENS: "user\0" + BLAKE2b of the token -> name, created, last use,
 * expiry. */
static size_t token_key(uint8_t key[static USERNAME_MAX + 1 + crypto_generichash_BYTES], const char *username,
                        const char *token) {
        size_t n = strlen(username);

        memcpy(key, username, n + 1);
        crypto_generichash(key + n + 1, crypto_generichash_BYTES, (const unsigned char *) token, strlen(token),
                           NULL, 0);
        return n + 1 + crypto_generichash_BYTES;
}

static int decode(const void *v, size_t n, api_token *ret) {
        record_reader rd = record_reader_init(v, n);

        if (record_get_u8(&rd) != TOKEN_RECORD_VERSION)
                return -EBADMSG;
        ret->name = record_get_string(&rd);
        ret->created_at = record_get_u64(&rd);
        ret->last_used_at = record_get_u64(&rd);
        ret->expires_at = record_get_u64(&rd);
        return rd.error;
}

static int encode(const api_token *t, record_writer *w) {
        record_put_u8(w, TOKEN_RECORD_VERSION);
        record_put_string(w, t->name);
        record_put_u64(w, t->created_at);
        record_put_u64(w, t->last_used_at);
        record_put_u64(w, t->expires_at);
        return record_writer_error(w);
}

bool api_token_syntax(const char *s) {
        return s && strncmp(s, API_TOKEN_PREFIX, strlen(API_TOKEN_PREFIX)) == 0 && strlen(s) == API_TOKEN_CHARS;
}

static bool valid_name(const char *name) {
        size_t n = strlen(name);

        if (n == 0 || n > API_TOKEN_NAME_MAX)
                return false;
        for (const char *p = name; *p; p++)
                if (!isalnum((unsigned char) *p) && !strchr("._@-", *p))
                        return false;
        return true;
}

typedef struct token_search {
        const char *name;
        uint8_t key[USERNAME_MAX + 1 + crypto_generichash_BYTES];
        size_t key_size;
        unsigned count;
} token_search;

static int search(const void *key, size_t key_size, const void *value, size_t value_size, void *userdata) {
        token_search *s = userdata;
        api_token t;
        int r = decode(value, value_size, &t);

        if (r < 0)
                return r;
        s->count++;
        if (s->name && strcmp(t.name, s->name) == 0 && key_size <= sizeof(s->key)) {
                memcpy(s->key, key, key_size);
                s->key_size = key_size;
        }
        return 0;
}

int api_token_create(op *o, const char *username, const char *name, uint64_t expires_at,
                     char ret[static API_TOKEN_CHARS + 1]) {
        _cleanup_(record_writer_done) record_writer w = {};
        _cleanup_(user_done) user u = {};
        uint8_t raw[TOKEN_BYTES], key[USERNAME_MAX + 1 + crypto_generichash_BYTES];
        token_search s = { .name = name };
        size_t key_size;
        int r;

        if (!valid_name(name))
                return nx_error_set(o->error, -EINVAL, "a token name is 1 to %d letters, digits, '.', '_', '@' or '-'",
                                    API_TOKEN_NAME_MAX);
        if (expires_at != 0 && expires_at <= o->now)
                return nx_error_set(o->error, -EINVAL, "the expiry is in the past");
        r = user_load(o->txn, username, &u);
        if (r < 0)
                return r;
        if (u.state != USER_ACTIVE)
                return nx_error_set(o->error, -EBUSY, "only an active account can have API tokens");
        r = store_foreach(o->txn, TABLE_TOKENS, username, strlen(username) + 1, false, search, &s);
        if (r < 0)
                return r;
        if (s.key_size > 0)
                return nx_error_set(o->error, -EEXIST, "you have a token named '%s' already", name);
        if (s.count >= API_TOKENS_PER_USER)
                return nx_error_set(o->error, -EBUSY, "at most %d tokens per user: revoke one first",
                                    API_TOKENS_PER_USER);

        memcpy(ret, API_TOKEN_PREFIX, strlen(API_TOKEN_PREFIX));
        randombytes_buf(raw, sizeof(raw));
        sodium_bin2base64(ret + strlen(API_TOKEN_PREFIX), API_TOKEN_CHARS + 1 - strlen(API_TOKEN_PREFIX), raw,
                          sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        sodium_memzero(raw, sizeof(raw));
        key_size = token_key(key, username, ret);
        r = encode(&(api_token) { .name = name, .created_at = o->now, .expires_at = expires_at }, &w);
        if (r >= 0)
                r = store_put(o->txn, TABLE_TOKENS, key, key_size, w.data, w.size, true);
        if (r >= 0)
                r = audit_append(o, "token.create", u.org, username, "API token '%s'%s", name,
                                 expires_at ? ", expires" : "");
        if (r < 0)
                sodium_memzero(ret, API_TOKEN_CHARS + 1);
        return r;
}

typedef struct token_walk {
        int (*fn)(const api_token *tok, void *userdata);
        void *userdata;
} token_walk;

static int visit(const void *key, size_t key_size, const void *value, size_t value_size, void *userdata) {
        token_walk *w = userdata;
        api_token t;
        int r = decode(value, value_size, &t);
        return r < 0 ? r : w->fn(&t, w->userdata);
}

int api_token_foreach(store_txn *t, const char *username, int (*fn)(const api_token *tok, void *userdata),
                      void *userdata) {
        token_walk w = { fn, userdata };
        return store_foreach(t, TABLE_TOKENS, username, strlen(username) + 1, false, visit, &w);
}

int api_token_revoke(op *o, const char *username, const char *name) {
        _cleanup_(user_done) user u = {};
        token_search s = { .name = name };
        int r;

        r = store_foreach(o->txn, TABLE_TOKENS, username, strlen(username) + 1, false, search, &s);
        if (r < 0)
                return r;
        if (s.key_size == 0)
                return nx_error_set(o->error, -ENOENT, "'%s' has no token named '%s'", username, name);
        r = store_del(o->txn, TABLE_TOKENS, s.key, s.key_size);
        if (r >= 0)
                r = user_load(o->txn, username, &u);
        if (r < 0)
                return r;
        return audit_append(o, "token.revoke", u.org, username, "API token '%s'", name);
}

int api_token_check(op *o, const char *username, const char *token) {
        _cleanup_(record_writer_done) record_writer w = {};
        uint8_t key[USERNAME_MAX + 1 + crypto_generichash_BYTES];
        char name[API_TOKEN_NAME_MAX + 1];
        size_t key_size;
        const void *v;
        api_token t;
        size_t n;
        int r;

        if (!api_token_syntax(token) || strlen(username) > USERNAME_MAX)
                return -EACCES;
        /* Found by its hash: the lookup compares hashes, never the token. */
        key_size = token_key(key, username, token);
        r = store_get(o->txn, TABLE_TOKENS, key, key_size, &v, &n);
        if (r == -ENOENT)
                return -EACCES;
        if (r >= 0)
                r = decode(v, n, &t);
        if (r < 0)
                return r;
        if (t.expires_at != 0 && o->now >= t.expires_at)
                return -EACCES;
        snprintf(name, sizeof(name), "%s", t.name);
        t.name = name;
        t.last_used_at = o->now;
        r = encode(&t, &w);
        if (r >= 0)
                r = store_put(o->txn, TABLE_TOKENS, key, key_size, w.data, w.size, false);
        return r;
}
