/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "password.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "macro.h"

static char dummy_hash[PASSWORD_HASH_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void) {
        char random_password[33];
        unsigned char raw[16];

        randombytes_buf(raw, sizeof(raw));
        sodium_bin2hex(random_password, sizeof(random_password), raw, sizeof(raw));
        if (password_hash(random_password, dummy_hash) < 0)
                dummy_hash[0] = 0;
        sodium_memzero(random_password, sizeof(random_password));
}

void password_prepare_dummy(void) {
        pthread_once(&dummy_once, make_dummy);
}

int password_hash(const char *password, char ret[static PASSWORD_HASH_MAX]) {
        return crypto_pwhash_str(ret, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                 crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0 ? 0 : -ENOMEM;
}

int password_verify(const char *hash, const char *password) {
        bool real = !isempty(hash);

        if (!real) {
                password_prepare_dummy();
                hash = dummy_hash;
                if (!*hash)
                        return -EACCES;
        }
        /* crypto_pwhash_str_verify() compares in constant time. */
        if (crypto_pwhash_str_verify(hash, password, strlen(password)) != 0)
                return -EACCES;
        return real ? 0 : -EACCES;
}
