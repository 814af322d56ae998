/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Password hashing, in one place: argon2id at libsodium's interactive
 * limits (~50-100 ms and 64 MiB by design), so these run on a worker thread,
 * never on the main loop. */

#include <sodium.h>

#define PASSWORD_HASH_MAX crypto_pwhash_STRBYTES

/* 0, or -ENOMEM when the memory for the hash could not be had. */
int password_hash(const char *password, char ret[static PASSWORD_HASH_MAX]);

/* 0 when password matches hash, -EACCES when not. A NULL or empty hash (an
 * unknown user, an invited one) is checked against a hash of a random
 * password at the same cost, so that the answer takes as long for a name
 * that does not exist or has no password as for one that does. */
int password_verify(const char *hash, const char *password);

/* Computes that stand-in hash now (on a worker, at start), so that the first
 * unknown name does not pay for it. Safe from any thread. */
void password_prepare_dummy(void);
