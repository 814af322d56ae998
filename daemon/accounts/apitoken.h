/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Personal API tokens (docs/links.md, "API tokens"): named, each 256 bits
 * from libsodium's CSPRNG, shown once ("nxt_" and 43 characters), stored
 * as a BLAKE2b hash with the creation time, the last use and an optional
 * expiry. A PAM service that opts in (pam_nexalix.so allow_token) accepts a
 * token in place of the user's password. Deactivation revokes them all. */

#include <stdbool.h>
#include <stdint.h>

#include "op.h"

#define API_TOKEN_PREFIX "nxt_"
#define API_TOKEN_CHARS (4 + 43)
#define API_TOKEN_NAME_MAX 64
#define API_TOKENS_PER_USER 32

typedef struct api_token {
        const char *name;
        uint64_t created_at, last_used_at, expires_at;  /* 0: never */
} api_token;

/* Whether s looks like a token (the prefix): a password never needs to. */
bool api_token_syntax(const char *s);

/* A new token named name for username (the caller checked who may);
 * expires_at 0: never. The token is written to ret (wipe it after use). */
int api_token_create(op *o, const char *username, const char *name, uint64_t expires_at,
                     char ret[static API_TOKEN_CHARS + 1]);
/* fn returns 0 to go on, < 0 on error. */
int api_token_foreach(store_txn *t, const char *username, int (*fn)(const api_token *tok, void *userdata),
                      void *userdata);
/* -ENOENT (o->error says so) when the user has no token of that name. */
int api_token_revoke(op *o, const char *username, const char *name);
/* 0 when token is one of username's and not expired (its last use is
 * recorded); -EACCES otherwise. */
int api_token_check(op *o, const char *username, const char *token);
